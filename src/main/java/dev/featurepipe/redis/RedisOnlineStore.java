package dev.featurepipe.redis;

import dev.featurepipe.core.BoundedMaps;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.OnlineStore;
import dev.featurepipe.core.StoreRejectedException;
import dev.featurepipe.core.expr.Evaluator;
import dev.featurepipe.core.registry.AggregateFeature;
import dev.featurepipe.core.registry.Aggregation;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.core.registry.Window;
import io.lettuce.core.RedisException;
import io.lettuce.core.ScriptOutputType;
import java.time.Clock;
import java.time.Duration;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;

/**
 * Online state in Redis: per entity and feature one hash of tiles, fields {@code <tile ms>:<tile start>:<part>}
 * (the lifetime window is tile 0:0), or for last_n a sorted set scored by event time. A batch of events is
 * applied by calls of {@code apply.lua}, each carrying at most {@code scriptEvents} of them: Redis serves nothing else
 * while a script runs, so short calls keep reads quick behind a busy consumer. A call carries its events' updates
 * folded (one command per field) and their applied marks; the script writes only if none of the marks exists, and
 * otherwise says which do, and the others are sent again without them, so a redelivered event changes nothing.
 * Tiles that no window can read any more are dropped when a newer tile of their size is first written; keys of
 * windowed features expire after their longest window. The store remembers which tile periods it saw marked, so
 * that only the first write of a period asks the script whether it is the first.
 * Reads fold tiles into window values once per tile period and write, and keep them in a window cache per entity
 * ({@link OnlineRead}); the same apply call that writes an entity's tiles bumps its cache's generation.
 */
public final class RedisOnlineStore implements OnlineStore {
    private static final long MIN_MARK_TTL_MS = Duration.ofDays(1).toMillis();
    /** apply.lua's replies per event (0: applied before). */
    private static final long APPLIED = 1;
    private static final long SEND_AGAIN = 2;
    /**
     * How many (feature key, tile size) pairs the store remembers the last marked tile period of: about 200 bytes
     * each. One it forgot costs one HSETNX per call, as every write did before.
     */
    private static final int MARKED_TILES = 100_000;

    private final RedisConnections redis;
    private final Registry registry;
    private final String namespace;
    private final Clock clock;
    private final long markTtlMs;
    private final int scriptEvents;
    private final RedisScript applyScript;
    /** Per feature key and tile size, the latest tile start whose mark a call of this store set or found. */
    private final Map<String, Long> markedTiles = BoundedMaps.leastRecentlyUsedFirst(MARKED_TILES);

    /**
     * @param namespace prefix of every key (the stream's name, so pipelines on one Redis stay apart)
     * @param scriptEvents most events one apply.lua call carries
     */
    public RedisOnlineStore(RedisConnections redis, Registry registry, String namespace, Clock clock, int scriptEvents) {
        this.redis = redis;
        this.scriptEvents = scriptEvents;
        this.registry = registry;
        this.namespace = namespace;
        this.clock = clock;
        this.markTtlMs = Math.max(registry.onlineRetentionMs(), MIN_MARK_TTL_MS);
        this.applyScript = RedisScript.load(redis.shared().sync(), "apply.lua");
    }

    @Override
    public ApplyResult apply(List<LoggedEvent> events) {
        int applied = 0;
        int lateApplied = 0;
        // a failure part-way leaves the calls before it applied: the batch is then delivered again, and their
        // events' marks make them duplicates
        for (int from = 0; from < events.size(); from += scriptEvents) {
            List<LoggedEvent> pending = events.subList(from, Math.min(events.size(), from + scriptEvents));
            while (!pending.isEmpty()) {
                Program program = new Program(clock.millis());
                List<LoggedEvent> sent = new ArrayList<>();
                List<Boolean> late = new ArrayList<>();
                for (LoggedEvent e : pending) {
                    Added added = program.add(e.event());
                    if (added != Added.REPEATED) {
                        sent.add(e);
                        late.add(added == Added.LATE);
                    }
                }
                List<Long> replies = run(program, sent.size());
                if (replies.contains(APPLIED)) { // the script wrote the call, tile marks included
                    program.marked();
                }
                List<LoggedEvent> again = new ArrayList<>();
                for (int i = 0; i < replies.size(); i++) {
                    if (replies.get(i) == APPLIED) {
                        applied++;
                        lateApplied += late.get(i) ? 1 : 0;
                    } else if (replies.get(i) == SEND_AGAIN) {
                        again.add(sent.get(i));
                    }
                }
                pending = again; // smaller: a reply of SEND_AGAIN comes with at least one event applied before
            }
        }
        return new ApplyResult(applied, events.size() - applied, lateApplied);
    }

    private List<Long> run(Program program, int events) {
        try {
            return applyScript.run(redis.shared().sync(), ScriptOutputType.MULTI, program.keys(), program.args());
        } catch (RedisException e) {
            throw redis.failure("applying " + events + " events", e);
        }
    }

    /** What adding an event to a program did. */
    private enum Added {
        /** it changes online state */
        CHANGES,
        /** too old for every window it has, so it changes no tile */
        LATE,
        /** the same event is in the program already */
        REPEATED
    }

    /** A field of a key (by its index in KEYS). */
    private record Field(String key, String field) {
    }

    /** The members a sorted set gains, each with its highest score, and how many it keeps. */
    private record SortedSetAdd(boolean raiseOnly, int keep, Map<String, Long> members) {
    }

    /** Keys and arguments of one apply.lua call: the events' updates folded together, as the script documents. */
    private final class Program {
        private final long now;
        private final Map<String, Integer> keys = new LinkedHashMap<>();
        private final Set<String> marks = new LinkedHashSet<>();
        private final Set<String> caches = new LinkedHashSet<>();
        private final Map<Field, Number> sums = new LinkedHashMap<>(); // whole numbers stay exact as Long
        private final Map<Field, String> smallest = new LinkedHashMap<>();
        private final Map<Field, String> largest = new LinkedHashMap<>();
        private final Map<Field, String[]> latest = new LinkedHashMap<>(); // ts, id, value
        private final Map<String, Set<String>> distinct = new LinkedHashMap<>();
        private final Map<String, SortedSetAdd> sortedSets = new LinkedHashMap<>();
        private final Map<Field, String[]> tiles = new LinkedHashMap<>(); // field: tile prefix; g, start, cutoff
        private final Map<String, Long> marking = new HashMap<>(); // as markedTiles, the tiles this call marks
        private final Map<String, Long> ttls = new LinkedHashMap<>();

        Program(long now) {
            this.now = now;
        }

        Added add(Event e) {
            if (!marks.add(key(StreamKeys.appliedMark(namespace, e.id())))) {
                return Added.REPEATED;
            }
            String entity = registry.eventType(e.type()).orElseThrow().entity();
            caches.add(key(StreamKeys.windowCache(namespace, entity, e.entityId())));
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
                String name = featureKey(entity, e.entityId(), f.name());
                String key = key(name);
                if (f.aggregation() == Aggregation.LAST_N) {
                    String member = f.distinct() ? text(value) : e.id() + "\0" + text(value);
                    sortedSets.computeIfAbsent(key, k -> new SortedSetAdd(f.distinct(), f.n(), new LinkedHashMap<>()))
                            .members().merge(member, e.ts(), Math::max);
                    changed = true;
                    continue;
                }
                for (Map.Entry<Long, Long> tile : cutoffsByTile(f, now).entrySet()) {
                    long g = tile.getKey();
                    long start = g == 0 ? 0 : Math.floorDiv(e.ts(), g) * g;
                    if (start < tile.getValue()) {
                        skipped = true; // no read from now on can include this tile
                        continue;
                    }
                    String prefix = g + ":" + start + ":";
                    if (g > 0) {
                        String tileKey = name + "|" + g;
                        if (!markedBefore(tileKey, start)) {
                            tiles.putIfAbsent(new Field(key, prefix),
                                    new String[] {Long.toString(g), Long.toString(start), Long.toString(tile.getValue())});
                            marking.merge(tileKey, start, Math::max);
                        }
                    }
                    fold(f, key, prefix, e, value);
                    changed = true;
                }
                if (f.windows().stream().noneMatch(Window::isLifetime)) {
                    long ttl = f.windows().stream().mapToLong(Window::retentionMs).max().orElseThrow();
                    ttls.merge(key, ttl, Math::max);
                }
            }
            return skipped && !changed ? Added.LATE : Added.CHANGES;
        }

        /**
         * Whether a call of this store marked this tile period or a later one: then the first write of the period
         * has dropped the older tiles already (what is dropped depends on the time of the drop, not on the tile).
         */
        private boolean markedBefore(String tileKey, long start) {
            Long marked = markedTiles.get(tileKey);
            return marked != null && marked >= start;
        }

        void marked() {
            marking.forEach((tileKey, start) -> markedTiles.merge(tileKey, start, Math::max));
        }

        private void fold(AggregateFeature f, String key, String prefix, Event e, Object value) {
            switch (f.aggregation()) {
                case COUNT -> add(key, prefix + "c", 1L);
                case SUM -> add(key, prefix + "s", finite(f, value));
                case AVG -> {
                    add(key, prefix + "s", finite(f, value));
                    add(key, prefix + "c", 1L);
                }
                case MIN -> keep(smallest, key, prefix + "n", text(finite(f, value)), -1);
                case MAX -> keep(largest, key, prefix + "x", text(finite(f, value)), 1);
                case FIRST_SEEN -> keep(smallest, key, prefix + "n", Long.toString(e.ts()), -1);
                case LAST_SEEN -> keep(largest, key, prefix + "x", Long.toString(e.ts()), 1);
                case COUNT_DISTINCT -> distinct.computeIfAbsent(key, k -> new LinkedHashSet<>()).add(prefix + "d:" + text(value));
                case LAST -> latest.merge(new Field(key, prefix), new String[] {Long.toString(e.ts()), e.id(), text(value)},
                        (a, b) -> later(b, a) ? b : a);
                case LAST_N -> throw new IllegalStateException("last_n has no tiles");
            }
        }

        private void add(String key, String field, Number amount) {
            sums.merge(new Field(key, field), amount, (a, b) -> a instanceof Long x && b instanceof Long y
                    ? (Number) (x + y) : (Number) (a.doubleValue() + b.doubleValue()));
        }

        /** Keeps the value whose number compared to the kept one has the sign {@code sign}. */
        private void keep(Map<Field, String> kept, String key, String field, String value, int sign) {
            kept.merge(new Field(key, field), value,
                    (a, b) -> Integer.signum(Double.compare(Double.parseDouble(b), Double.parseDouble(a))) == sign ? b : a);
        }

        /** The key's 1-based index in KEYS, as text. */
        private String key(String name) {
            return Integer.toString(keys.computeIfAbsent(name, k -> keys.size() + 1));
        }

        String[] keys() {
            return keys.keySet().toArray(String[]::new);
        }

        String[] args() {
            List<String> a = new ArrayList<>();
            a.add(Integer.toString(marks.size()));
            a.add(Long.toString(markTtlMs));
            a.addAll(marks);
            a.add(Integer.toString(caches.size()));
            a.add(Long.toString(markTtlMs));
            a.addAll(caches);
            tiles.forEach((f, t) -> a.addAll(List.of("T", f.key(), t[0], t[1], t[2])));
            sums.forEach((f, v) -> a.addAll(List.of("I", f.key(), f.field(), text(v))));
            smallest.forEach((f, v) -> a.addAll(List.of("N", f.key(), f.field(), v)));
            largest.forEach((f, v) -> a.addAll(List.of("X", f.key(), f.field(), v)));
            latest.forEach((f, v) -> a.addAll(List.of("L", f.key(), f.field(), v[0], v[1], v[2])));
            distinct.forEach((k, fields) -> {
                a.addAll(List.of("D", k, Integer.toString(fields.size())));
                a.addAll(fields);
            });
            sortedSets.forEach((k, z) -> {
                a.addAll(List.of(z.raiseOnly() ? "G" : "Z", k, Integer.toString(z.keep()), Integer.toString(z.members().size())));
                z.members().forEach((member, score) -> {
                    a.add(Long.toString(score));
                    a.add(member);
                });
            });
            ttls.forEach((k, ttl) -> a.addAll(List.of("E", k, Long.toString(ttl))));
            return a.toArray(String[]::new);
        }
    }

    /** Whether (ts, id) of {@code x} is after that of {@code y}, ids compared as bytes as the script does. */
    private static boolean later(String[] x, String[] y) {
        int byTs = Long.compare(Long.parseLong(x[0]), Long.parseLong(y[0]));
        return byTs != 0 ? byTs > 0 : Arrays.compareUnsigned(x[1].getBytes(StandardCharsets.UTF_8),
                y[1].getBytes(StandardCharsets.UTF_8)) > 0;
    }

    /**
     * The value of a numeric feature; one that is not a finite number (x / 0) fails the event before anything is
     * written: Redis refuses it in a sum, and in a min or max it would hide every later value. The consumer then
     * applies the batch event by event and sends this one to the dead-letter stream with the reason.
     */
    private static Number finite(AggregateFeature f, Object value) {
        Number n = (Number) value;
        if (n instanceof Double d && !Double.isFinite(d)) {
            throw new StoreRejectedException("feature " + f.name() + ": the value " + d + " is not a finite number", null);
        }
        return n;
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

    @Override
    public Map<String, Map<String, Object>> read(String entity, List<String> ids, Collection<ServedFeature> features,
                                                 long now, Duration timeout) {
        return reading(entity, ids, () -> new OnlineRead(redis.reads(), namespace, entity, ids, features, now, timeout.toNanos()).run());
    }

    /**
     * Sends the Redis commands a read of these features sends when every window is cached, and waits for the
     * replies without decoding them: the floor a read sits on (the serving benchmark's baseline).
     */
    public void roundTrip(String entity, List<String> ids, Collection<ServedFeature> features, Duration timeout) {
        reading(entity, ids, () -> {
            new OnlineRead(redis.reads(), namespace, entity, ids, features, clock.millis(), timeout.toNanos()).roundTrip();
            return null;
        });
    }

    /** A step of a read that waits for Redis. */
    @FunctionalInterface
    private interface ReadStep<T> {
        T run() throws ExecutionException, InterruptedException;
    }

    private <T> T reading(String entity, List<String> ids, ReadStep<T> step) {
        try {
            return step.run();
        } catch (RedisException | ExecutionException e) {
            throw redis.failure("reading features of " + ids.size() + " " + entity + "(s)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw redis.failure("reading features of " + ids.size() + " " + entity + "(s)", e);
        }
    }

    private String featureKey(String entity, String id, String feature) {
        return StreamKeys.feature(namespace, entity, id, feature);
    }

    /** Numbers as Redis and the script read them back: whole numbers without a decimal point. */
    static String text(Object value) {
        if (value instanceof Double d) {
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString(d.longValue()) : Double.toString(d);
        }
        if (value instanceof Boolean b) {
            return b ? "1" : "0";
        }
        return String.valueOf(value);
    }
}
