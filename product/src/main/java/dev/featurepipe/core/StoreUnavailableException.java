package dev.featurepipe.core;

/** A backing store (Redis, ClickHouse, MongoDB) could not be reached or refused the call; retrying may help. */
public class StoreUnavailableException extends FeaturepipeException {
    public StoreUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }

    public StoreUnavailableException(String message) {
        super(message);
    }
}
