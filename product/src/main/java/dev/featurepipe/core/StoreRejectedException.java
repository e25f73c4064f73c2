package dev.featurepipe.core;

/**
 * A store refused an event's data: applying it again fails the same way (a value a sum cannot hold, an update of
 * a field that holds another type), so a consumer sends the event to the dead-letter stream and goes on.
 */
public class StoreRejectedException extends FeaturepipeException {
    public StoreRejectedException(String message, Throwable cause) {
        super(message, cause);
    }
}
