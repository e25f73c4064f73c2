package dev.featurepipe.redis;

import dev.featurepipe.core.StoreTimeoutException;
import dev.featurepipe.core.registry.AggregateFeature;
import dev.featurepipe.core.registry.Aggregation;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.online.StoredValues;
import dev.featurepipe.online.TileReader;
import dev.featurepipe.online.WindowCache;
import io.lettuce.core.KeyValue;
import io.lettuce.core.LettuceFutures;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScriptOutputType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * One read of features for some ids, in at most two pipelined round trips. The first asks each id's window cache
 * for the window values (with the generation of the entity's state), the last_n lists and the batch values; only
 * the windows the cache cannot answer are then folded from their tiles, and written back to the cache.
 *
 * <p>A cached value is served only when it was computed from the current generation and for the same lower bound:
 * a window's value changes only with a write to the entity (which bumps the generation, in the same script call
 * as the write) or when its lower bound moves to the next tile. The write-back is refused by Redis when the
 * generation changed after it was read, and the tiles are read after the generation, so a value cached under a
 * generation never misses a write of that generation.
 */
final class OnlineRead {
    /** Ids whose tiles one round trip of a fold holds at once. */
    private static final int FOLD_CHUNK = 10;
    static final String WRITE_BACK = "if redis.call('HGET', KEYS[1], '" + WindowCache.GENERATION + "') == ARGV[1] then"
            + " redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end return 0";

    private final RedisConnections.Reads reads;
    private final Shards shards;
    private final String entity;
    private final List<String> ids;
    private final long now;
    private final long deadlineNanos;
    private final long timeoutMs;
    private final List<ServedFeature.WindowValue> tiled = new ArrayList<>();
    private final Map<String, ServedFeature.WindowValue> lists = new LinkedHashMap<>(); // by served name
    private final Map<String, ServedFeature.BatchValue> batches = new LinkedHashMap<>();
    private int cacheHits;
    private int cacheMisses;

    OnlineRead(RedisConnections.Reads reads, Shards shards, String entity, List<String> ids,
               Iterable<ServedFeature> features, long now, long timeoutNanos) {
        this.reads = reads;
        this.shards = shards;
        this.entity = entity;
        this.ids = ids;
        this.now = now;
        this.deadlineNanos = System.nanoTime() + timeoutNanos;
        this.timeoutMs = TimeUnit.NANOSECONDS.toMillis(timeoutNanos);
        for (ServedFeature f : features) {
            if (f instanceof ServedFeature.WindowValue w && w.feature().aggregation() == Aggregation.LAST_N) {
                lists.put(w.name(), w);
            } else if (f instanceof ServedFeature.WindowValue w) {
                tiled.add(w);
            } else if (f instanceof ServedFeature.BatchValue b) {
                batches.put(b.name(), b);
            }
        }
    }

    /** The replies of the first round trip: batch run marks by name; per id its window cache and direct reads. */
    private record FirstReplies(Map<String, RedisFuture<String>> lastRuns,
                                List<RedisFuture<List<KeyValue<String, String>>>> cached,
                                List<Map<String, RedisFuture<?>>> direct, List<RedisFuture<?>> all) {
    }

    /** Sends the first round trip: each id's window cache, last_n lists and batch values, and the batch run marks. */
    private FirstReplies sendFirst() {
        FirstReplies first = new FirstReplies(new HashMap<>(), new ArrayList<>(ids.size()), new ArrayList<>(ids.size()),
                new ArrayList<>());
        String[] cacheFields = new String[tiled.size() + 1];
        cacheFields[0] = WindowCache.GENERATION;
        for (int i = 0; i < tiled.size(); i++) {
            cacheFields[i + 1] = tiled.get(i).name();
        }
        reads.send(async -> {
            batches.keySet().forEach(name -> first.lastRuns().put(name, async.hget(StreamKeys.batchMarks(shards.stream(), name), "computed_at")));
            for (String id : ids) {
                if (!tiled.isEmpty()) {
                    first.cached().add(async.hmget(StreamKeys.windowCache(shards.prefixOf(id), entity, id), cacheFields));
                }
                Map<String, RedisFuture<?>> ofId = new HashMap<>();
                lists.forEach((name, w) -> ofId.put(name, async.zrevrange(key(id, w.feature().name()), 0, w.feature().n() - 1)));
                batches.keySet().forEach(name -> ofId.put(name, async.get(key(id, name))));
                first.direct().add(ofId);
                first.all().addAll(ofId.values());
            }
        });
        first.all().addAll(first.lastRuns().values());
        first.all().addAll(first.cached());
        return first;
    }

    /** The first round trip alone, awaited and not decoded: what a read costs Redis and the client when it hits. */
    void roundTrip() throws ExecutionException, InterruptedException {
        await(sendFirst().all());
    }

    /** The values by id, then by served name; features without state are absent. */
    Map<String, Map<String, Object>> run() throws ExecutionException, InterruptedException {
        FirstReplies first = sendFirst();
        await(first.all());
        Map<String, RedisFuture<String>> lastRuns = first.lastRuns();
        List<RedisFuture<List<KeyValue<String, String>>>> cached = first.cached();
        List<Map<String, RedisFuture<?>>> direct = first.direct();

        Map<String, Map<String, Object>> result = new LinkedHashMap<>();
        List<Miss> misses = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            Map<String, Object> values = new HashMap<>();
            for (Map.Entry<String, RedisFuture<?>> read : direct.get(i).entrySet()) {
                Object reply = read.getValue().get();
                ServedFeature.BatchValue batch = batches.get(read.getKey());
                if (batch != null && reply != null) {
                    values.put(batch.name(), RedisBatchValueStore.decode(batch.feature(), (String) reply,
                            lastRuns.get(batch.name()).get()));
                } else if (batch == null && reply instanceof List<?> members && !members.isEmpty()) {
                    values.put(read.getKey(), recent(lists.get(read.getKey()).feature(), members));
                }
            }
            if (!tiled.isEmpty()) {
                Miss miss = fromCache(ids.get(i), cached.get(i).get(), values);
                if (!miss.windows.isEmpty()) {
                    misses.add(miss);
                }
            }
            result.put(ids.get(i), values);
        }
        // a few ids at a time: the tiles of a busy entity are many, and a request may miss the cache for all its ids
        for (int from = 0; from < misses.size(); from += FOLD_CHUNK) {
            fold(misses.subList(from, Math.min(misses.size(), from + FOLD_CHUNK)), result);
        }
        return result;
    }

    /** Window values the cache answered, of those {@link #run} read. */
    int cacheHits() {
        return cacheHits;
    }

    /** Window values {@link #run} folded from tiles, since the cache could not answer them. */
    int cacheMisses() {
        return cacheMisses;
    }

    /** The windows of one id the cache could not answer, and the generation the cache had. */
    private record Miss(String id, String generation, List<ServedFeature.WindowValue> windows) {
    }

    private Miss fromCache(String id, List<KeyValue<String, String>> reply, Map<String, Object> values) {
        String generation = reply.get(0).getValueOrElse(null);
        List<ServedFeature.WindowValue> missed = new ArrayList<>();
        for (int f = 0; f < tiled.size(); f++) {
            ServedFeature.WindowValue w = tiled.get(f);
            WindowCache.Hit hit = WindowCache.lookup(reply.get(f + 1).getValueOrElse(null), generation,
                    w.window().lowerBound(now));
            if (hit == null) {
                cacheMisses++;
                missed.add(w);
            } else if (hit.hasState()) {
                cacheHits++;
                values.put(w.name(), hit.valueText() == null ? null : StoredValues.typed(w.feature().resultType(), w.feature().scale(), hit.valueText()));
            }
        }
        return new Miss(id, generation, missed);
    }

    /** Reads the tiles the missed windows need, folds them, and writes the values back to the cache. */
    private void fold(List<Miss> misses, Map<String, Map<String, Object>> result)
            throws ExecutionException, InterruptedException {
        List<Map<String, RedisFuture<Map<String, String>>>> tiles = new ArrayList<>(misses.size());
        List<RedisFuture<?>> all = new ArrayList<>();
        reads.send(async -> {
            for (Miss miss : misses) {
                Map<String, RedisFuture<Map<String, String>>> perFeature = new HashMap<>();
                for (ServedFeature.WindowValue w : miss.windows()) {
                    perFeature.computeIfAbsent(w.feature().name(), name -> async.hgetall(key(miss.id(), name)));
                }
                tiles.add(perFeature);
                all.addAll(perFeature.values());
            }
        });
        await(all);
        for (int m = 0; m < misses.size(); m++) {
            Miss miss = misses.get(m);
            Map<String, Object> values = result.get(miss.id());
            List<String> writeBack = new ArrayList<>();
            writeBack.add(miss.generation());
            for (ServedFeature.WindowValue w : miss.windows()) {
                Map<String, String> fields = tiles.get(m).get(w.feature().name()).get();
                boolean hasState = !fields.isEmpty();
                Object value = hasState ? TileReader.value(w.feature(), w.window(), fields, now) : null;
                if (hasState) {
                    values.put(w.name(), value);
                }
                writeBack.add(w.name());
                writeBack.add(WindowCache.entry(miss.generation(), w.window().lowerBound(now), hasState, value));
            }
            if (miss.generation() != null) {
                // not awaited: a lost write-back only costs the next read a fold
                reads.send(async -> async.eval(WRITE_BACK, ScriptOutputType.INTEGER,
                        new String[] {StreamKeys.windowCache(shards.prefixOf(miss.id()), entity, miss.id())}, writeBack.toArray(String[]::new)));
            }
        }
    }

    private void await(List<RedisFuture<?>> replies) throws ExecutionException, InterruptedException {
        long left = deadlineNanos - System.nanoTime();
        if (!LettuceFutures.awaitAll(left, TimeUnit.NANOSECONDS, replies.toArray(RedisFuture[]::new))) {
            throw new StoreTimeoutException("Redis: reading features of " + ids.size() + " " + entity
                    + "(s) took longer than " + timeoutMs + " ms");
        }
    }

    private String key(String id, String feature) {
        return StreamKeys.feature(shards.prefixOf(id), entity, id, feature);
    }

    private static List<Object> recent(AggregateFeature f, List<?> members) {
        List<Object> values = new ArrayList<>(members.size());
        for (Object m : members) {
            values.add(StoredValues.typed(f.value().type(), f.scale(), StoredValues.recentValue((String) m, f.distinct())));
        }
        return values;
    }
}
