package dev.featurepipe.core;

/** The event log holds as many unprocessed events as it may: ingest must wait until the consumers catch up. */
public class BacklogFullException extends StoreUnavailableException {
    public BacklogFullException(String message, Throwable cause) {
        super(message, cause);
    }
}
