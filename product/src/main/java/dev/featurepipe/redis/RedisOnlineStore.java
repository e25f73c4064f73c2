package dev.featurepipe.redis;

import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.OnlineStore;
import dev.featurepipe.core.SequencedEvent;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.online.ChunkFold;
import dev.featurepipe.online.ChunkWrites;
import io.lettuce.core.RedisException;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.LongAdder;

/**
 * Online state in Redis: per entity a state hash with the {@link dev.featurepipe.online.Tile tiles} of its
 * features and the recent values of its last_n features, and hashes of its distinct values ({@link ApplyScript}
 * lays them out). A batch of events is folded ({@link ChunkFold}) and applied by calls of
 * {@code apply.lua}, each carrying at most {@code scriptEvents} of them: Redis serves nothing else while a script
 * runs, so short calls keep reads quick behind a busy consumer. A call carries its events' writes and their applied
 * marks; the script writes only if none of the marks exists, and otherwise says which do, and the others are sent
 * again without them, so a redelivered event changes nothing.
 * Reads fold tiles into window values once per tile period and write, and keep them in a window cache per entity
 * ({@link OnlineRead}); the same apply call that writes an entity's tiles bumps its cache's generation, and
 * numbers the entity's events of types with profile rules in the order it applies them: each number is given
 * once and kept in the event's mark, so a profile store can apply the event exactly once.
 */
public final class RedisOnlineStore implements OnlineStore {
    private final RedisConnections redis;
    private final Registry registry;
    private final Shards shards;
    private final Clock clock;
    private final int scriptEvents;
    private final ApplyScript applyScript;
    private final LongAdder cacheHits = new LongAdder();
    private final LongAdder cacheMisses = new LongAdder();

    /**
     * @param shards where each entity's keys are (their names start with the stream's, so pipelines on one Redis
     *               stay apart)
     * @param scriptEvents most events one apply.lua call carries
     * @param prunePeriods tile periods of a size between two drops of the tiles no window reads any more
     */
    public RedisOnlineStore(RedisConnections redis, Registry registry, Shards shards, Clock clock, int scriptEvents,
                            int prunePeriods) {
        this.redis = redis;
        this.scriptEvents = scriptEvents;
        this.registry = registry;
        this.shards = shards;
        this.clock = clock;
        this.applyScript = new ApplyScript(shards, prunePeriods);
    }

    /** Applies the events shard by shard: a script call touches the keys of one shard only. */
    @Override
    public ApplyResult apply(List<LoggedEvent> events) {
        if (shards.count() == 1) {
            return applyToShard(events);
        }
        Map<Integer, List<LoggedEvent>> byShard = new TreeMap<>();
        events.forEach(e -> byShard.computeIfAbsent(shards.of(e.event().entityId()), s -> new ArrayList<>()).add(e));
        ApplyResult total = new ApplyResult(0, 0, 0, List.of());
        for (List<LoggedEvent> ofShard : byShard.values()) {
            total = total.plus(applyToShard(ofShard));
        }
        return total;
    }

    private ApplyResult applyToShard(List<LoggedEvent> events) {
        int applied = 0;
        int lateApplied = 0;
        List<SequencedEvent> sequenced = new ArrayList<>(events.size());
        // a failure part-way leaves the calls before it applied: the batch is then delivered again, and their
        // events' marks make them duplicates
        for (int from = 0; from < events.size(); from += scriptEvents) {
            List<LoggedEvent> pending = events.subList(from, Math.min(events.size(), from + scriptEvents));
            while (!pending.isEmpty()) {
                ChunkFold fold = new ChunkFold(registry, clock.millis());
                List<LoggedEvent> sent = new ArrayList<>();
                List<Boolean> late = new ArrayList<>();
                for (LoggedEvent e : pending) {
                    ChunkFold.Added added = fold.add(e.event());
                    if (added != ChunkFold.Added.REPEATED) {
                        sent.add(e);
                        late.add(added == ChunkFold.Added.LATE);
                    }
                }
                List<ApplyScript.Reply> replies = run(fold.writes(), sent.size());
                List<LoggedEvent> again = new ArrayList<>();
                for (int i = 0; i < replies.size(); i++) {
                    ApplyScript.Reply reply = replies.get(i);
                    if (reply.outcome() == ApplyScript.SEND_AGAIN) {
                        again.add(sent.get(i));
                        continue;
                    }
                    if (reply.outcome() == ApplyScript.APPLIED) {
                        applied++;
                        lateApplied += late.get(i) ? 1 : 0;
                    }
                    if (reply.sequence() > 0) { // 0: applied before sequence numbers were kept, and its profile too
                        sequenced.add(new SequencedEvent(sent.get(i).event(), reply.sequence(), reply.startsSequence()));
                    }
                }
                pending = again; // smaller: a reply of SEND_AGAIN comes with at least one event applied before
            }
        }
        return new ApplyResult(applied, events.size() - applied, lateApplied, sequenced);
    }

    private List<ApplyScript.Reply> run(ChunkWrites writes, int events) {
        try {
            return applyScript.run(redis.shared().sync(), writes);
        } catch (RedisException e) {
            throw redis.failure("applying " + events + " events", e);
        }
    }

    @Override
    public Map<String, Map<String, Object>> read(String entity, List<String> ids, Collection<ServedFeature> features,
                                                 long now, Duration timeout) {
        OnlineRead read = new OnlineRead(redis.reads(), shards, entity, ids, features, now, timeout.toNanos());
        Map<String, Map<String, Object>> values = reading(entity, ids, read::run);
        cacheHits.add(read.cacheHits());
        cacheMisses.add(read.cacheMisses());
        return values;
    }

    /** The window cache's hits and misses, counted per window value read. */
    public MeterBinder cacheMetrics() {
        return metrics -> {
            FunctionCounter.builder("featurepipe.serve.window.cache", cacheHits, LongAdder::sum).tag("result", "hit")
                    .register(metrics);
            FunctionCounter.builder("featurepipe.serve.window.cache", cacheMisses, LongAdder::sum).tag("result", "miss")
                    .register(metrics);
        };
    }

    /**
     * Sends the Redis commands a read of these features sends when every window is cached, and waits for the
     * replies without decoding them: the floor a read sits on (the serving benchmark's baseline).
     */
    public void roundTrip(String entity, List<String> ids, Collection<ServedFeature> features, Duration timeout) {
        reading(entity, ids, () -> {
            new OnlineRead(redis.reads(), shards, entity, ids, features, clock.millis(), timeout.toNanos()).roundTrip();
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
}
