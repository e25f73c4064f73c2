package dev.featurepipe.core;

import java.util.List;

/** The one append-only log every store is fed from. */
public interface EventLog {

    /** Where an event landed in the log; {@code duplicate} when an event of its {@link Event#key() key} was appended before. */
    record Appended(String position, boolean duplicate) {
    }

    /**
     * Appends the events, skipping those whose key the log still remembers: in one atomic step per shard of the
     * log, shard by shard.
     *
     * @return one result per event, in order
     * @throws PartlyAppendedException when a shard could not be written after others were, naming what they took
     * @throws StoreUnavailableException when the log cannot be written; then nothing was appended
     */
    List<Appended> append(List<Event> events);
}
