package dev.featurepipe.online;

import java.util.List;
import java.util.Map;

/** One write to the online state of a feature, the events of a chunk folded into it. */
public sealed interface StoreOp {
    FeatureKey key();

    /** Adds {@code amount} (a Long stays exact, a Double is added as a float) to a field, 0 when absent. */
    record AddTo(FeatureKey key, String field, Number amount) implements StoreOp {
    }

    /** Sets a field to {@code value} when it is absent or holds a larger number. */
    record KeepMin(FeatureKey key, String field, String value) implements StoreOp {
    }

    /** Sets a field to {@code value} when it is absent or holds a smaller number. */
    record KeepMax(FeatureKey key, String field, String value) implements StoreOp {
    }

    /**
     * Sets the tile's last fields to (ts, eventId, value) when (ts, eventId) is after the (ts, event_id) they
     * hold, event_ids compared as bytes.
     */
    record KeepLatest(FeatureKey key, Tile tile, long ts, String eventId, String value) implements StoreOp {
    }

    /** Sets each of {@code fields} (distinct values, {@link Tile#distinctField}) to 1. */
    record AddDistinct(FeatureKey key, List<String> fields) implements StoreOp {
    }

    /**
     * Adds members to the recent values of a last_n feature, each scored by its event time, and keeps the
     * {@code keep} highest; with {@code raiseOnly} (distinct values) an existing member's score is only raised.
     */
    record AddRecent(FeatureKey key, int keep, boolean raiseOnly, Map<String, Long> scores) implements StoreOp {
    }

    /**
     * Drops the tiles of size {@code tileMs} that start before {@code cutoff}: no window reads them any more. A store
     * may leave them for a few more tile periods, to drop the tiles of several periods at once.
     *
     * @param distinctValues whether the tiles hold distinct values (a count_distinct feature's)
     */
    record Prune(FeatureKey key, long tileMs, long cutoff, boolean distinctValues) implements StoreOp {
    }
}
