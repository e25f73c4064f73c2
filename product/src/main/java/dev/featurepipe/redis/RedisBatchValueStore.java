package dev.featurepipe.redis;

import dev.featurepipe.core.BatchValueStore;
import dev.featurepipe.core.Materialized;
import dev.featurepipe.core.registry.BatchFeature;
import dev.featurepipe.online.StoredValues;
import io.lettuce.core.LettuceFutures;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Batch feature values in Redis: one string per entity and feature, {@code "<computed at> <value>"}, under the
 * same key scheme as the other features, expiring after the feature's ttl. Writes are pipelined on a connection of
 * their own: a chunk of values costs one flush and one wait. The run marks are a hash per feature.
 */
public final class RedisBatchValueStore implements BatchValueStore {
    private static final String LOCK = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end"
            + " if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end return 0";
    private static final String UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"
            + " return 0";
    private static final long WRITE_TIMEOUT_S = 30;

    private final RedisConnections redis;
    private final Shards shards;
    private final String owner;
    private RedisConnections.Link writer;

    /**
     * @param shards where each entity's keys are, as for {@link RedisOnlineStore}
     * @param owner who claims features: a process restarted under the same name takes back the claims its
     *              predecessor left, instead of waiting for them to expire
     */
    public RedisBatchValueStore(RedisConnections redis, Shards shards, String owner) {
        this.redis = redis;
        this.shards = shards;
        this.owner = owner;
    }

    /** The stored form of a value: its computation time, a space, its text. */
    static String encode(long computedAt, String text) {
        return computedAt + " " + text;
    }

    /**
     * A stored value back in the feature's type. An incremental run rewrites only the values that changed, so a
     * value is as fresh as the later of its own computation time and the last run that completed.
     *
     * @param lastRun the {@code computed_at} mark of the feature's last completed run, or null
     */
    static Materialized decode(BatchFeature f, String stored, String lastRun) {
        int space = stored.indexOf(' ');
        long computedAt = Long.parseLong(stored.substring(0, space));
        return new Materialized(StoredValues.typed(f.type(), 0, stored.substring(space + 1)),
                lastRun == null ? computedAt : Math.max(computedAt, Long.parseLong(lastRun)));
    }

    @Override
    public Marks marks(BatchFeature f) {
        List<String> v = call("reading the marks of " + f.name(), c -> c.hmget(StreamKeys.batchMarks(shards.stream(), f.name()),
                "computed_at", "full_at", "writing").stream().map(kv -> kv.getValueOrElse("0")).toList());
        return new Marks(Long.parseLong(v.get(0)), Long.parseLong(v.get(1)), Long.parseLong(v.get(2)));
    }

    @Override
    public boolean tryLock(BatchFeature f, Duration hold) {
        return call("claiming " + f.name(), c -> c.<Long>eval(LOCK, ScriptOutputType.INTEGER,
                new String[] {StreamKeys.batchLock(shards.stream(), f.name())}, owner, Long.toString(hold.toMillis()))) == 1L;
    }

    @Override
    public void unlock(BatchFeature f) {
        call("releasing " + f.name(), c -> c.<Long>eval(UNLOCK, ScriptOutputType.INTEGER,
                new String[] {StreamKeys.batchLock(shards.stream(), f.name())}, owner));
    }

    @Override
    public void beginWrite(BatchFeature f, long computedAt) {
        call("marking a run of " + f.name(), c -> c.hset(StreamKeys.batchMarks(shards.stream(), f.name()), "writing",
                Long.toString(computedAt)));
    }

    @Override
    public void endWrite(BatchFeature f, long computedAt, boolean full) {
        String key = StreamKeys.batchMarks(shards.stream(), f.name());
        call("marking a run of " + f.name() + " done", c -> {
            c.hset(key, "computed_at", Long.toString(computedAt));
            if (full) {
                c.hset(key, "full_at", Long.toString(computedAt));
            }
            return c.hdel(key, "writing");
        });
    }

    @Override
    public synchronized void write(BatchFeature f, List<Write> values, long computedAt) {
        if (writer == null) {
            writer = redis.dedicated();
            writer.setAutoFlushCommands(false);
        }
        RedisClusterAsyncCommands<String, String> async = writer.async();
        SetArgs expiry = SetArgs.Builder.px(f.ttl().toMillis());
        List<RedisFuture<?>> replies = new ArrayList<>(values.size());
        for (Write v : values) {
            String key = StreamKeys.feature(shards.prefixOf(v.entityId()), f.entity(), v.entityId(), f.name());
            replies.add(v.text() == null ? async.del(key) : async.set(key, encode(computedAt, v.text()), expiry));
        }
        writer.flushCommands();
        try {
            if (!LettuceFutures.awaitAll(WRITE_TIMEOUT_S, TimeUnit.SECONDS, replies.toArray(RedisFuture[]::new))) {
                throw redis.failure("writing " + values.size() + " values of " + f.name(),
                        new RedisException("no answer within " + WRITE_TIMEOUT_S + " s"));
            }
        } catch (RedisException e) {
            throw redis.failure("writing " + values.size() + " values of " + f.name(), e);
        }
    }

    private <T> T call(String doing, Function<RedisClusterCommands<String, String>, T> command) {
        try {
            return command.apply(redis.shared().sync());
        } catch (RedisException e) {
            throw redis.failure(doing, e);
        }
    }
}
