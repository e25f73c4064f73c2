package dev.featurepipe.redis;

import dev.featurepipe.consumer.ShardWorkers;
import io.lettuce.core.RedisException;
import io.lettuce.core.ScriptOutputType;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

/**
 * The leases of a group's shards in Redis: the live workers in a sorted set scored by when each expires (by the
 * Redis server's clock, so the workers' clocks need not agree), and per shard a key holding its worker's name,
 * which expires with the lease. Each call is one script over one key.
 */
public final class RedisShardLeases implements ShardWorkers.Leases {
    /** KEYS[1] the workers; ARGV[1] this worker, ARGV[2] the lease in ms. Returns the live workers. */
    private static final String HEARTBEAT = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)"
            + " redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)"
            + " redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])"
            + " redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))"
            + " return redis.call('ZRANGE', KEYS[1], 0, -1)";
    /** KEYS[1] the shard's lease; ARGV[1] this worker, ARGV[2] the lease in ms. 1 when this worker holds it now. */
    private static final String HOLD = "local owner = redis.call('GET', KEYS[1])"
            + " if owner and owner ~= ARGV[1] then return 0 end"
            + " redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1";
    private static final String RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end"
            + " return 0";

    private final RedisConnections redis;
    private final Shards shards;
    private final String group;

    public RedisShardLeases(RedisConnections redis, Shards shards, String group) {
        this.redis = redis;
        this.shards = shards;
        this.group = group;
    }

    @Override
    public List<String> heartbeat(String worker, Duration ttl) {
        return calling("announcing " + worker, () -> redis.shared().sync().eval(HEARTBEAT, ScriptOutputType.MULTI,
                new String[] {StreamKeys.workers(shards.stream(), group)}, worker, Long.toString(ttl.toMillis())));
    }

    @Override
    public boolean hold(int shard, String worker, Duration ttl) {
        return calling("holding shard " + shard, () -> redis.shared().sync().<Long>eval(HOLD, ScriptOutputType.INTEGER,
                new String[] {StreamKeys.lease(shards.prefix(shard), group)}, worker, Long.toString(ttl.toMillis()))) == 1L;
    }

    @Override
    public void release(int shard, String worker) {
        calling("releasing shard " + shard, () -> redis.shared().sync().eval(RELEASE, ScriptOutputType.INTEGER,
                new String[] {StreamKeys.lease(shards.prefix(shard), group)}, worker));
    }

    @Override
    public void leave(String worker) {
        calling("leaving", () -> redis.shared().sync().zrem(StreamKeys.workers(shards.stream(), group), worker));
    }

    private <T> T calling(String doing, Supplier<T> call) {
        try {
            return call.get();
        } catch (RedisException e) {
            throw redis.failure(doing + " in group " + group + " of " + shards, e);
        }
    }
}
