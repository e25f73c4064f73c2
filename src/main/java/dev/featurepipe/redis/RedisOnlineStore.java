package dev.featurepipe.redis;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.OnlineStore;
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
import java.util.ArrayList;
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
 * applied by one call of {@code apply.lua}, which sets each event's applied mark first and skips an event whose
 * mark exists, so a redelivered event changes nothing. Tiles that no window can read any more are dropped when
 * a newer tile of their size is first written; keys of windowed features expire after their longest window.
 * Reads fold tiles into window values once per tile period and write, and keep them in a window cache per entity
 * ({@link OnlineRead}); the same apply call that writes an entity's tiles bumps its cache's generation.
 */
public final class RedisOnlineStore implements OnlineStore {
    private static final long MIN_MARK_TTL_MS = Duration.ofDays(1).toMillis();

    private final RedisConnections redis;
    private final Registry registry;
    private final String namespace;
    private final Clock clock;
    private final long markTtlMs;
    private final RedisScript applyScript;

    /** @param namespace prefix of every key (the stream's name, so pipelines on one Redis stay apart) */
    public RedisOnlineStore(RedisConnections redis, Registry registry, String namespace, Clock clock) {
        this.redis = redis;
        this.registry = registry;
        this.namespace = namespace;
        this.clock = clock;
        this.markTtlMs = Math.max(registry.onlineRetentionMs(), MIN_MARK_TTL_MS);
        this.applyScript = RedisScript.load(redis.shared().sync(), "apply.lua");
    }

    @Override
    public ApplyResult apply(List<LoggedEvent> events) {
        if (events.isEmpty()) {
            return new ApplyResult(0, 0, 0);
        }
        Program program = new Program();
        boolean[] late = new boolean[events.size()];
        long now = clock.millis();
        for (int i = 0; i < events.size(); i++) {
            late[i] = program.add(events.get(i).event(), now);
        }
        List<Long> results;
        try {
            results = applyScript.run(redis.shared().sync(), ScriptOutputType.MULTI, program.keys(), program.args());
        } catch (RedisException e) {
            throw redis.failure("applying " + events.size() + " events", e);
        }
        int applied = 0;
        int lateApplied = 0;
        for (int i = 0; i < results.size(); i++) {
            if (results.get(i) == 1L) {
                applied++;
                lateApplied += late[i] ? 1 : 0;
            }
        }
        return new ApplyResult(applied, events.size() - applied, lateApplied);
    }

    /** The keys and arguments of one apply.lua call, built event by event. */
    private final class Program {
        private final Map<String, Integer> keys = new LinkedHashMap<>();
        private final Set<String> tilesTouched = new HashSet<>();
        private final Set<String> caches = new LinkedHashSet<>();
        private final List<String> args = new ArrayList<>(List.of("0"));
        private int events;

        /** @return whether the event is late: too old for every window it has, so it changes no tile */
        boolean add(Event e, long now) {
            String entity = registry.eventType(e.type()).orElseThrow().entity();
            caches.add(key(StreamKeys.windowCache(namespace, entity, e.entityId())));
            List<String> ops = new ArrayList<>();
            int opCount = 0;
            boolean skipped = false;
            for (AggregateFeature f : registry.aggregatesOf(e.type())) {
                if (f.filter() != null && !Evaluator.test(f.filter(), e.fields())) {
                    continue;
                }
                Object value = f.value() == null ? null : Evaluator.value(f.value(), e.fields());
                if (f.value() != null && value == null) {
                    continue;
                }
                String key = key(featureKey(entity, e.entityId(), f.name()));
                if (f.aggregation() == Aggregation.LAST_N) {
                    String member = f.distinct() ? text(value) : e.id() + "\0" + text(value);
                    opCount += op(ops, f.distinct() ? "G" : "Z", key, Long.toString(e.ts()), member, Integer.toString(f.n()));
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
                    // the first write to a tile prunes older ones; within a batch, asking once per tile is enough
                    if (g > 0 && tilesTouched.add(key + ":" + prefix)) {
                        opCount += op(ops, "T", key, Long.toString(g), Long.toString(start), Long.toString(tile.getValue()));
                    }
                    opCount += tileOps(ops, f, key, prefix, e, value);
                }
                if (f.windows().stream().noneMatch(Window::isLifetime)) {
                    long ttl = f.windows().stream().mapToLong(Window::retentionMs).max().orElseThrow();
                    opCount += op(ops, "E", key, Long.toString(ttl));
                }
            }
            args.add(key(StreamKeys.appliedMark(namespace, e.id())));
            args.add(Long.toString(markTtlMs));
            args.add(Integer.toString(opCount));
            args.addAll(ops);
            args.set(0, Integer.toString(++events));
            return skipped && opCount == 0;
        }

        private int tileOps(List<String> ops, AggregateFeature f, String key, String prefix, Event e, Object value) {
            String ts = Long.toString(e.ts());
            return switch (f.aggregation()) {
                case COUNT -> op(ops, "I", key, prefix + "c", "1");
                case SUM -> op(ops, "I", key, prefix + "s", text(value));
                case AVG -> op(ops, "I", key, prefix + "s", text(value)) + op(ops, "I", key, prefix + "c", "1");
                case MIN -> op(ops, "N", key, prefix + "n", text(value));
                case MAX -> op(ops, "X", key, prefix + "x", text(value));
                case FIRST_SEEN -> op(ops, "N", key, prefix + "n", ts);
                case LAST_SEEN -> op(ops, "X", key, prefix + "x", ts);
                case COUNT_DISTINCT -> op(ops, "D", key, prefix + "d:" + text(value));
                case LAST -> op(ops, "L", key, prefix, ts, e.id(), text(value));
                case LAST_N -> throw new IllegalStateException("last_n has no tiles");
            };
        }

        private int op(List<String> ops, String code, String key, String... operands) {
            ops.add(code);
            ops.add(key);
            ops.addAll(List.of(operands));
            return 1;
        }

        /** The key's 1-based index in KEYS, as text. */
        private String key(String name) {
            return Integer.toString(keys.computeIfAbsent(name, k -> keys.size() + 1));
        }

        String[] keys() {
            return keys.keySet().toArray(String[]::new);
        }

        String[] args() {
            List<String> all = new ArrayList<>(args.size() + caches.size() + 2);
            all.addAll(args);
            all.add(Integer.toString(caches.size()));
            all.add(Long.toString(markTtlMs));
            all.addAll(caches);
            return all.toArray(String[]::new);
        }
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
        try {
            return new OnlineRead(redis.shared().async(), namespace, entity, ids, features, now, timeout.toNanos()).run();
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
