package dev.featurepipe.core;

import java.util.List;

/** The store of every raw event, for analytics, backfills and training sets. */
public interface OfflineStore {

    /** Creates or extends the tables for the registry's fields. */
    void ensureSchema();

    /**
     * Writes the events so that writing the same event again replaces it.
     *
     * @throws StoreUnavailableException when the write did not commit; the caller retries
     */
    void insert(List<Event> events);

    /** Number of distinct events stored. */
    long countEvents();
}
