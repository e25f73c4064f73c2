package dev.featurepipe.core;

/**
 * A store failed in a way that is neither passing nor caused by the event's data (a refused login, an unknown
 * command, a broken invariant): retrying will not help and skipping the event would lose it, so a consumer stops.
 */
public class StoreFailedException extends FeaturepipeException {
    public StoreFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
