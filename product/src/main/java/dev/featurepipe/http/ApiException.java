package dev.featurepipe.http;

import dev.featurepipe.core.FeaturepipeException;
import java.util.List;

/** A request the API refuses, with the HTTP status to answer and details a client can act on. */
public class ApiException extends FeaturepipeException {
    private final int status;
    private final List<?> details;

    public ApiException(int status, String message, List<?> details) {
        super(message);
        this.status = status;
        this.details = List.copyOf(details);
    }

    public int status() {
        return status;
    }

    public List<?> details() {
        return details;
    }
}
