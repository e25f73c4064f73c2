package dev.featurepipe.online;

import dev.featurepipe.core.BoundedMaps;
import java.util.Map;

/**
 * Per feature state and tile size, the latest tile start whose mark a write set or found. The first write of a
 * tile period drops the older tiles (what it drops depends on the time of the drop, not on the tile), so a later
 * write of that period or an earlier one need not ask again. Bounded: a forgotten entry costs one mark check.
 */
public final class TileMarks {
    private final Map<Sized, Long> latest;

    /** @param max how many (feature state, tile size) pairs are remembered, about 200 bytes each */
    public TileMarks(int max) {
        this.latest = BoundedMaps.leastRecentlyUsedFirst(max);
    }

    /** A feature's state and one of its tile sizes. */
    record Sized(FeatureKey key, long tileMs) {
    }

    boolean markedSince(FeatureKey key, Tile tile) {
        Long marked = latest.get(new Sized(key, tile.ms()));
        return marked != null && marked >= tile.start();
    }

    void remember(Map<Sized, Long> marked) {
        marked.forEach((sized, start) -> latest.merge(sized, start, Math::max));
    }
}
