package dev.featurepipe.redis;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.core.StoreFailedException;
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
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * One read of features for some ids, in at most two pipelined round trips. The first asks each id's state hash
 * for the cached window values (with the generation of the entity's state) and the last_n lists, and reads the
 * batch values; only the windows the cache cannot answer are then folded from their tiles (the entity's state hash,
 * and its distinct values when a count_distinct window missed), and written back to the cache.
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
    private static final ObjectMapper JSON = new ObjectMapper();
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

    /**
     * The replies of the first round trip: batch run marks by name; per id its state hash's fields (the generation,
     * the cached windows, the last_n lists) and its batch values.
     */
    private record FirstReplies(Map<String, RedisFuture<String>> lastRuns,
                                List<RedisFuture<List<KeyValue<String, String>>>> cached,
                                List<Map<String, RedisFuture<String>>> direct, List<RedisFuture<?>> all) {
    }

    /** Sends the first round trip: each id's cached windows, last_n lists and batch values, and the batch run marks. */
    private FirstReplies sendFirst() {
        FirstReplies first = new FirstReplies(new HashMap<>(), new ArrayList<>(ids.size()), new ArrayList<>(ids.size()),
                new ArrayList<>());
        List<String> stateFields = new ArrayList<>();
        stateFields.add(WindowCache.GENERATION);
        tiled.forEach(w -> stateFields.add(w.name()));
        lists.values().forEach(w -> stateFields.add(w.feature().name() + ApplyScript.FEATURE_SEPARATOR + ApplyScript.RECENT));
        String[] fields = stateFields.toArray(String[]::new);
        reads.send(async -> {
            batches.keySet().forEach(name -> first.lastRuns().put(name, async.hget(StreamKeys.batchMarks(shards.stream(), name), "computed_at")));
            for (String id : ids) {
                if (fields.length > 1) {
                    first.cached().add(async.hmget(StreamKeys.state(shards.prefixOf(id), entity, id), fields));
                }
                Map<String, RedisFuture<String>> ofId = new HashMap<>();
                batches.keySet().forEach(name -> ofId.put(name, async.get(StreamKeys.feature(shards.prefixOf(id), entity, id, name))));
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
        List<Map<String, RedisFuture<String>>> direct = first.direct();

        Map<String, Map<String, Object>> result = new LinkedHashMap<>();
        List<Miss> misses = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            Map<String, Object> values = new HashMap<>();
            for (Map.Entry<String, RedisFuture<String>> read : direct.get(i).entrySet()) {
                String reply = read.getValue().get();
                ServedFeature.BatchValue batch = batches.get(read.getKey());
                if (reply != null) {
                    values.put(batch.name(), RedisBatchValueStore.decode(batch.feature(), reply, lastRuns.get(batch.name()).get()));
                }
            }
            if (!cached.isEmpty()) {
                List<KeyValue<String, String>> state = cached.get(i).get();
                int f = tiled.size() + 1;
                for (ServedFeature.WindowValue w : lists.values()) {
                    String list = state.get(f++).getValueOrElse(null);
                    if (list != null) {
                        values.put(w.name(), recent(w.feature(), list));
                    }
                }
                Miss miss = fromCache(ids.get(i), state, values);
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
        List<RedisFuture<Map<String, String>>> states = new ArrayList<>(misses.size());
        List<RedisFuture<Map<String, String>>> distinct = new ArrayList<>(misses.size());
        List<RedisFuture<?>> all = new ArrayList<>();
        reads.send(async -> {
            for (Miss miss : misses) {
                String shard = shards.prefixOf(miss.id());
                states.add(async.hgetall(StreamKeys.state(shard, entity, miss.id())));
                boolean distinctWindow = miss.windows().stream().anyMatch(
                        w -> w.feature().aggregation() == Aggregation.COUNT_DISTINCT && !w.window().isLifetime());
                distinct.add(distinctWindow ? async.hgetall(StreamKeys.distinct(shard, entity, miss.id())) : null);
            }
            all.addAll(states);
            distinct.stream().filter(Objects::nonNull).forEach(all::add);
        });
        await(all);
        for (int m = 0; m < misses.size(); m++) {
            Miss miss = misses.get(m);
            Map<String, Object> values = result.get(miss.id());
            Map<String, Map<String, String>> byFeature = byFeature(states.get(m).get());
            if (distinct.get(m) != null) {
                byFeature(distinct.get(m).get()).forEach((name, fields) ->
                        byFeature.computeIfAbsent(name, n -> new HashMap<>()).putAll(fields));
            }
            List<String> writeBack = new ArrayList<>();
            writeBack.add(miss.generation());
            for (ServedFeature.WindowValue w : miss.windows()) {
                Map<String, String> fields = byFeature.getOrDefault(w.feature().name(), Map.of());
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
                        new String[] {StreamKeys.state(shards.prefixOf(miss.id()), entity, miss.id())}, writeBack.toArray(String[]::new)));
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

    /** The fields {@code <feature>/<field>} of a hash, by feature and field; the other fields are left out. */
    private static Map<String, Map<String, String>> byFeature(Map<String, String> hash) {
        Map<String, Map<String, String>> byFeature = new HashMap<>();
        hash.forEach((field, value) -> {
            int at = field.indexOf(ApplyScript.FEATURE_SEPARATOR);
            if (at > 0) {
                byFeature.computeIfAbsent(field.substring(0, at), n -> new HashMap<>()).put(field.substring(at + 1), value);
            }
        });
        return byFeature;
    }

    /** The values of a last_n list as apply.lua keeps it: a JSON array of score and member, highest score first. */
    private static List<Object> recent(AggregateFeature f, String list) {
        JsonNode scored;
        try {
            scored = JSON.readTree(list);
        } catch (JsonProcessingException e) {
            throw new StoreFailedException("Redis: the recent values of " + f.name() + " are no JSON array: " + list, e);
        }
        List<Object> values = new ArrayList<>(scored.size() / 2);
        for (int i = 1; i < scored.size(); i += 2) {
            values.add(StoredValues.typed(f.value().type(), f.scale(), StoredValues.recentValue(scored.get(i).asText(), f.distinct())));
        }
        return values;
    }
}
