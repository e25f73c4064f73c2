package dev.featurepipe.core;

import java.util.List;

/** The store of every raw event, for analytics, backfills and training sets. */
public interface OfflineStore {

    /**
     * Creates or extends the tables for the registry's fields.
     *
     * @throws FeaturepipeException when a stored column's type is not the registry's, before anything changed
     */
    void ensureSchema();

    /**
     * Writes the events, each with the time the log appended it, so that writing the same event again replaces it.
     *
     * @throws StoreUnavailableException when the write did not commit; the caller retries
     */
    void insert(List<LoggedEvent> events);

    /** Number of distinct events stored. */
    long countEvents();
}
