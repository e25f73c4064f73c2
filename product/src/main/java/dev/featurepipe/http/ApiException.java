package dev.featurepipe.http;

import dev.featurepipe.core.FeaturepipeException;
import java.util.List;
import java.util.Map;

/** A request the API refuses, with the HTTP status to answer and details a client can act on. */
public class ApiException extends FeaturepipeException {
    private final int status;
    private final List<?> details;
    private final Map<String, String> headers;

    public ApiException(int status, String message, List<?> details) {
        this(status, message, details, Map.of());
    }

    /** @param headers go with the answer (WWW-Authenticate, Retry-After) */
    public ApiException(int status, String message, List<?> details, Map<String, String> headers) {
        super(message);
        this.status = status;
        this.details = List.copyOf(details);
        this.headers = Map.copyOf(headers);
    }

    public int status() {
        return status;
    }

    public List<?> details() {
        return details;
    }

    public Map<String, String> headers() {
        return headers;
    }
}
