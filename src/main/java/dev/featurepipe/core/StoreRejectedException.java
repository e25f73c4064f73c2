package dev.featurepipe.core;

/** A store refused an operation for a reason retrying will not fix (a syntax, type or script error). */
public class StoreRejectedException extends FeaturepipeException {
    public StoreRejectedException(String message, Throwable cause) {
        super(message, cause);
    }
}
