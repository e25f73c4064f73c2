package dev.featurepipe.online;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.StoreRejectedException;
import dev.featurepipe.core.expr.Evaluator;
import dev.featurepipe.core.registry.AggregateFeature;
import dev.featurepipe.core.registry.Aggregation;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.Window;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Folds the events of a chunk into the writes that apply them: per field one operation, however many of the
 * events write it. An event is folded into each tile size of each aggregate feature of its type that its filter
 * passes: into the tile that holds its event time, unless no window of that size can read the tile any more.
 * Each tile size written carries a {@link StoreOp.Prune} of the tiles no window of that size reads any more.
 */
public final class ChunkFold {
    /** Applied marks live at least this long, and as long as the longest window's tiles. */
    private static final long MIN_MARK_TTL_MS = Duration.ofDays(1).toMillis();
    /** The largest long whose square is a long. */
    private static final long SQUARE_EXACT = 3_037_000_499L;

    /** What adding an event did. */
    public enum Added {
        /** it changes online state */
        CHANGES,
        /** too old for every window it has, so it changes no tile */
        LATE,
        /** the same event is in the chunk already */
        REPEATED
    }

    /** A field of a feature's state. */
    private record Field(FeatureKey key, String name) {
    }

    /** A feature's state and one of its tile sizes. */
    private record Sized(FeatureKey key, long tileMs) {
    }

    private final Registry registry;
    private final long now;
    private final Set<String> keys = new HashSet<>();
    private final List<ChunkWrites.Marked> applied = new ArrayList<>();
    private final Map<Sized, StoreOp.Prune> prunes = new LinkedHashMap<>();
    private final Map<String, Long> stateTtls = new HashMap<>();
    private final Map<Field, Number> sums = new LinkedHashMap<>(); // whole numbers stay exact as Long
    private final Map<Field, String> smallest = new LinkedHashMap<>();
    private final Map<Field, String> largest = new LinkedHashMap<>();
    private final Map<Field, StoreOp.KeepLatest> latest = new LinkedHashMap<>(); // by tile prefix
    private final Map<FeatureKey, Set<String>> distinct = new LinkedHashMap<>();
    private final Map<FeatureKey, StoreOp.AddRecent> recent = new LinkedHashMap<>();

    /** @param now the time whose windows decide which tiles are still read */
    public ChunkFold(Registry registry, long now) {
        this.registry = registry;
        this.now = now;
    }

    public Added add(Event e) {
        if (!keys.add(e.key())) {
            return Added.REPEATED;
        }
        String entity = registry.eventType(e.type()).orElseThrow().entity();
        boolean profiled = !registry.profilesOf(e.type()).isEmpty();
        applied.add(new ChunkWrites.Marked(e.key(), new EntityKey(entity, e.entityId()), profiled));
        stateTtls.computeIfAbsent(entity, this::stateTtlMs);
        boolean changed = false;
        boolean skipped = false;
        for (AggregateFeature f : registry.aggregatesOf(e.type())) {
            if (f.filter() != null && !Evaluator.test(f.filter(), e.fields())) {
                continue;
            }
            Object value = f.value() == null ? null : Evaluator.value(f.value(), e.fields());
            if (f.value() != null && value == null) {
                continue;
            }
            FeatureKey key = new FeatureKey(entity, e.entityId(), f.name());
            if (f.aggregation() == Aggregation.LAST_N) {
                recent.computeIfAbsent(key, k -> new StoreOp.AddRecent(k, f.n(), f.distinct(), new LinkedHashMap<>()))
                        .scores().merge(StoredValues.recentMember(e.id(), value, f.distinct()), e.ts(), Math::max);
                changed = true;
                continue;
            }
            for (Map.Entry<Long, Long> cutoff : cutoffsByTile(f, now).entrySet()) {
                Tile tile = Tile.holding(cutoff.getKey(), e.ts());
                if (tile.start() < cutoff.getValue()) {
                    skipped = true; // no read from now on can include this tile
                    continue;
                }
                if (tile.ms() > 0) {
                    prunes.putIfAbsent(new Sized(key, tile.ms()), new StoreOp.Prune(key, tile.ms(), cutoff.getValue(),
                            f.aggregation() == Aggregation.COUNT_DISTINCT));
                }
                fold(f, key, tile, e, value);
                changed = true;
            }
        }
        return skipped && !changed ? Added.LATE : Added.CHANGES;
    }

    private void fold(AggregateFeature f, FeatureKey key, Tile tile, Event e, Object value) {
        switch (f.aggregation()) {
            case COUNT -> add(key, tile.field(Tile.Part.COUNT), 1L);
            case SUM -> add(key, tile.field(Tile.Part.SUM), summand(f, value));
            case AVG -> {
                add(key, tile.field(Tile.Part.SUM), summand(f, value));
                add(key, tile.field(Tile.Part.COUNT), 1L);
            }
            case VARIANCE, STDDEV -> {
                // of a decimal too, as a double: its variance is one
                Number x = value instanceof BigDecimal d ? (Number) d.doubleValue() : finite(f, value);
                add(key, tile.field(Tile.Part.SUM), x);
                add(key, tile.field(Tile.Part.SUM_OF_SQUARES), finite(f, squared(x)));
                add(key, tile.field(Tile.Part.COUNT), 1L);
            }
            case MIN -> keep(smallest, key, tile.field(Tile.Part.MIN), StoredValues.text(finite(f, value)), -1);
            case MAX -> keep(largest, key, tile.field(Tile.Part.MAX), StoredValues.text(finite(f, value)), 1);
            case FIRST_SEEN -> keep(smallest, key, tile.field(Tile.Part.MIN), Long.toString(e.ts()), -1);
            case LAST_SEEN -> keep(largest, key, tile.field(Tile.Part.MAX), Long.toString(e.ts()), 1);
            case COUNT_DISTINCT -> distinct.computeIfAbsent(key, k -> new LinkedHashSet<>())
                    .add(tile.distinctField(StoredValues.text(value)));
            case LAST -> latest.merge(new Field(key, tile.prefix()),
                    new StoreOp.KeepLatest(key, tile, e.ts(), e.id(), StoredValues.text(value)),
                    (a, b) -> later(b, a) ? b : a);
            case LAST_N -> throw new IllegalStateException("last_n has no tiles");
        }
    }

    /**
     * Folds an amount into a field's sum. Finite amounts can add up to one that is not (two near 1e308): that fails
     * the call before anything is sent, as a value the store refuses, so the consumer splits the batch until the
     * event that makes the sum overflow is alone.
     */
    private void add(FeatureKey key, String field, Number amount) {
        Number sum = sums.merge(new Field(key, field), amount, ChunkFold::plus);
        if (sum instanceof Double d && !Double.isFinite(d)) {
            throw new StoreRejectedException("feature " + key.feature() + ": the events of one call add up to " + d
                    + " in " + field + ", not a finite number", null);
        }
    }

    /** a + b: exact for whole numbers while the sum fits a long, else as doubles (as Redis adds them anyway). */
    private static Number plus(Number a, Number b) {
        if (a instanceof Long x && b instanceof Long y) {
            try {
                return Math.addExact(x, y);
            } catch (ArithmeticException overflow) {
                // falls through to doubles
            }
        }
        return a.doubleValue() + b.doubleValue();
    }

    /** x², exact for a whole number whose square is a long. */
    private static Number squared(Number x) {
        return x instanceof Long l && Math.abs(l) <= SQUARE_EXACT ? (Number) (l * l) : (Number) (x.doubleValue() * x.doubleValue());
    }

    /** Keeps the value whose number compared to the kept one has the sign {@code sign}. */
    private static void keep(Map<Field, String> kept, FeatureKey key, String field, String value, int sign) {
        kept.merge(new Field(key, field), value,
                (a, b) -> Integer.signum(Double.compare(Double.parseDouble(b), Double.parseDouble(a))) == sign ? b : a);
    }

    /** Whether (ts, event_id) of {@code x} is after that of {@code y}, ids compared as bytes. */
    private static boolean later(StoreOp.KeepLatest x, StoreOp.KeepLatest y) {
        int byTs = Long.compare(x.ts(), y.ts());
        return byTs != 0 ? byTs > 0 : Arrays.compareUnsigned(x.eventId().getBytes(StandardCharsets.UTF_8),
                y.eventId().getBytes(StandardCharsets.UTF_8)) > 0;
    }

    /**
     * The value of a numeric feature; one that is not a finite number (x / 0) fails the event before anything is
     * written: a store refuses it in a sum, and in a min or max it would hide every later value. The consumer then
     * applies the batch event by event and sends this one to the dead-letter stream with the reason.
     */
    private static Number finite(AggregateFeature f, Object value) {
        Number n = (Number) value;
        if (n instanceof Double d && !Double.isFinite(d)) {
            throw new StoreRejectedException("feature " + f.name() + ": the value " + d + " is not a finite number", null);
        }
        return n;
    }

    /** What a value adds to a sum: a decimal its unscaled value, a whole number of units of its scale, exactly. */
    private static Number summand(AggregateFeature f, Object value) {
        return value instanceof BigDecimal d ? (Number) d.unscaledValue().longValueExact() : finite(f, value);
    }

    /**
     * Per tile size of the feature, the oldest tile start any of its windows can still read at {@code now} or
     * later (tile size 0, the lifetime window, never drops anything).
     */
    private static Map<Long, Long> cutoffsByTile(AggregateFeature f, long now) {
        Map<Long, Long> cutoffs = new TreeMap<>();
        for (Window w : f.windows()) {
            cutoffs.merge(w.tileMs(), w.lowerBound(now), Math::min);
        }
        return cutoffs;
    }

    /**
     * How long an entity's state is kept after its last write: always (0) when a feature of the entity keeps a
     * lifetime value or recent values, else as long as the applied marks, at least as long as the longest window.
     */
    private long stateTtlMs(String entity) {
        boolean forever = registry.eventTypes().stream().filter(t -> t.entity().equals(entity))
                .flatMap(t -> registry.aggregatesOf(t.name()).stream())
                .anyMatch(f -> f.aggregation() == Aggregation.LAST_N || f.windows().stream().anyMatch(Window::isLifetime));
        return forever ? 0 : markTtlMs();
    }

    private long markTtlMs() {
        return Math.max(registry.onlineRetentionMs(), MIN_MARK_TTL_MS);
    }

    /** The writes of the events added so far. */
    public ChunkWrites writes() {
        List<StoreOp> ops = new ArrayList<>(prunes.values());
        sums.forEach((f, amount) -> ops.add(new StoreOp.AddTo(f.key(), f.name(), amount)));
        smallest.forEach((f, v) -> ops.add(new StoreOp.KeepMin(f.key(), f.name(), v)));
        largest.forEach((f, v) -> ops.add(new StoreOp.KeepMax(f.key(), f.name(), v)));
        ops.addAll(latest.values());
        distinct.forEach((key, fields) -> ops.add(new StoreOp.AddDistinct(key, List.copyOf(fields))));
        ops.addAll(recent.values());
        return new ChunkWrites(applied, markTtlMs(), stateTtls, ops);
    }
}
