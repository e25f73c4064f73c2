package dev.featurepipe.core;

import java.util.Map;

/**
 * Events were appended on the log's master, but fewer of its replicas than asked for acknowledged them in time: they
 * are in the log, and a failover of that master before the replicas catch up could lose them. Sending them again is
 * safe (they are found as duplicates) and answers once the replicas hold them.
 */
public class UnreplicatedAppendException extends StoreUnavailableException {
    private final Map<Integer, EventLog.Appended> appended;

    /** @param appended by index among the events given to append, those appended on the master only */
    public UnreplicatedAppendException(String message, Map<Integer, EventLog.Appended> appended) {
        super(message);
        this.appended = Map.copyOf(appended);
    }

    /** The events on the master but not yet on the replicas, by index among those given to append. */
    public Map<Integer, EventLog.Appended> appended() {
        return appended;
    }
}
