package dev.featurepipe.core.registry;

import dev.featurepipe.core.Durations;
import java.time.Duration;

/**
 * A sliding event-time window of length W read from tiles of size g, labelled as the registry writes it (24h,
 * 7d; the suffix of its served name). At time t it covers events with {@code floor(t/g)*g - W <= ts <= t}: the
 * current partial tile plus W/g whole tiles before it. The lifetime window covers every event up to t and is
 * kept as one tile.
 */
public record Window(String label, Duration length, Duration tile) {
    public static final String LIFETIME = "lifetime";

    public Window {
        if (length != null && length.toMillis() % tile.toMillis() != 0) {
            throw new IllegalArgumentException("window " + Durations.format(length)
                    + " is not a multiple of its tile " + Durations.format(tile));
        }
    }

    public static Window lifetime() {
        return new Window(LIFETIME, null, null);
    }

    public boolean isLifetime() {
        return length == null;
    }

    /** Tile size in ms; 0 for the lifetime window. */
    public long tileMs() {
        return isLifetime() ? 0 : tile.toMillis();
    }

    /** Start of the tile holding time {@code ts} (0 for the lifetime window). */
    public long tileStart(long ts) {
        return isLifetime() ? 0 : Math.floorDiv(ts, tileMs()) * tileMs();
    }

    /** The earliest event time the window includes when read at {@code t}. */
    public long lowerBound(long t) {
        return isLifetime() ? Long.MIN_VALUE : tileStart(t) - length.toMillis();
    }

    /** How long a tile must be kept for this window to be read correctly. */
    public long retentionMs() {
        return isLifetime() ? Long.MAX_VALUE : length.toMillis() + tileMs();
    }

    /** The default tile for a window: 5 minutes below 12 hours, 1 hour below 12 days, 1 day beyond. */
    public static Duration defaultTile(Duration length) {
        if (length.compareTo(Duration.ofHours(12)) < 0) {
            return Duration.ofMinutes(5);
        }
        return length.compareTo(Duration.ofDays(12)) < 0 ? Duration.ofHours(1) : Duration.ofDays(1);
    }
}
