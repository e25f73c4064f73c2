package dev.featurepipe.core;

import java.util.Map;

/**
 * The log is sharded and some shards took their events while another could not be written: the events appended
 * stay appended. Sending the same events again appends each of the others once and finds these duplicates.
 */
public class PartlyAppendedException extends StoreUnavailableException {
    private final Map<Integer, EventLog.Appended> appended;

    /** @param appended by index among the events given to append, those that are in the log */
    public PartlyAppendedException(String message, Map<Integer, EventLog.Appended> appended, Throwable cause) {
        super(message, cause);
        this.appended = Map.copyOf(appended);
    }

    /** The events in the log, by index among those given to append. */
    public Map<Integer, EventLog.Appended> appended() {
        return appended;
    }
}
