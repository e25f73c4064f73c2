package dev.featurepipe.http;

import java.util.List;
import java.util.Map;

/**
 * A request refused before it is served: no or a bad key, a scope or entity it may not use, a rate or a size over
 * its limit. Counted in {@code featurepipe.http.refused} by {@link #reason()}.
 */
public class RefusedException extends ApiException {
    private final String reason;

    public RefusedException(int status, String reason, String message, Map<String, String> headers) {
        super(status, message, List.of(), headers);
        this.reason = reason;
    }

    public RefusedException(int status, String reason, String message) {
        this(status, reason, message, Map.of());
    }

    /** A short metric tag: {@code no_key}, {@code unknown_key}, {@code scope}, {@code entity}, {@code rate}, ... */
    public String reason() {
        return reason;
    }
}
