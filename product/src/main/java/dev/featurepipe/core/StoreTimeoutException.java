package dev.featurepipe.core;

/** A store did not answer within the time the caller could wait; it may still be up, only slow. */
public class StoreTimeoutException extends StoreUnavailableException {
    public StoreTimeoutException(String message) {
        super(message, null);
    }
}
