package dev.featurepipe.redis;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.EventCodec;
import dev.featurepipe.core.EventLog;
import dev.featurepipe.core.BacklogFullException;
import dev.featurepipe.core.PartlyAppendedException;
import dev.featurepipe.core.UnreplicatedAppendException;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The event log as Redis Streams, one per shard ({@link Shards}), appended to by one Lua call per shard a request
 * touches, so a request is all or nothing on each shard. The events of a request share entries, up to
 * {@code entryEvents} per entry, one encoded event per line: the stream and its consumers then pay per entry, not
 * per event. An event's position is {@code <entry id>/<index>}, and with several shards {@code <shard>:<entry
 * id>/<index>}.
 *
 * <p>Asked to wait for replicas ({@link ReplicaWait}), each shard's append runs on a connection of its own, straight
 * to the master of the shard's slot, followed there by {@code WAIT}: a shard is done when that many replicas hold
 * its events.
 */
public final class RedisEventLog implements EventLog {
    private final RedisConnections redis;
    private final EventCodec codec;
    private final Shards shards;
    private final long dedupeTtlMs;
    private final long maxBacklog;
    private final int entryEvents;
    private final ReplicaWait wait;
    private final ExclusiveLinks waiting;
    private final RedisScript appendScript;

    /**
     * How many replicas of the master that took a shard's events must hold them before an append returns
     * ({@code WAIT}), and for how long it waits; {@code connections} bounds the connections of appends that wait
     * (one each while it lasts: WAIT blocks its connection).
     */
    public record ReplicaWait(int replicas, Duration timeout, int connections) {
        /** Returns once the master holds the events, as Redis replicates asynchronously. */
        public static final ReplicaWait NONE = new ReplicaWait(0, Duration.ofSeconds(1), 1);
    }

    /**
     * @param maxBacklog the most entries each shard's stream may hold; an append beyond it is refused as a whole
     * @param entryEvents the most events one stream entry holds
     */
    public RedisEventLog(RedisConnections redis, EventCodec codec, Shards shards, Duration dedupeTtl, long maxBacklog,
                         int entryEvents) {
        this(redis, codec, shards, dedupeTtl, maxBacklog, entryEvents, ReplicaWait.NONE);
    }

    public RedisEventLog(RedisConnections redis, EventCodec codec, Shards shards, Duration dedupeTtl, long maxBacklog,
                         int entryEvents, ReplicaWait wait) {
        this.redis = redis;
        this.codec = codec;
        this.shards = shards;
        this.dedupeTtlMs = dedupeTtl.toMillis();
        this.maxBacklog = maxBacklog;
        this.entryEvents = entryEvents;
        this.wait = wait;
        this.waiting = wait.replicas() == 0 ? null : new ExclusiveLinks(redis, wait.connections(), wait.timeout());
        this.appendScript = RedisScript.load("append.lua");
    }

    /**
     * {@inheritDoc}
     *
     * @throws UnreplicatedAppendException when the first shard's events are on its master but not on enough of its
     *     replicas (a later shard's: {@link PartlyAppendedException} with it as the cause)
     */
    @Override
    public List<Appended> append(List<Event> events) {
        Map<Integer, List<Integer>> byShard = new LinkedHashMap<>(); // in the order the request first names them
        for (int i = 0; i < events.size(); i++) {
            byShard.computeIfAbsent(shards.of(events.get(i).entityId()), s -> new ArrayList<>()).add(i);
        }
        Appended[] appended = new Appended[events.size()];
        Map<Integer, Appended> done = new TreeMap<>();
        for (Map.Entry<Integer, List<Integer>> shard : byShard.entrySet()) {
            List<Integer> indexes = shard.getValue();
            ShardAppend ofShard;
            try {
                ofShard = append(shard.getKey(), indexes.stream().map(events::get).toList());
            } catch (RuntimeException e) {
                throw partly(done, events.size(), shard.getKey(), e);
            }
            if (ofShard.replicas() < wait.replicas()) {
                Map<Integer, Appended> unreplicated = new TreeMap<>();
                for (int j = 0; j < indexes.size(); j++) {
                    unreplicated.put(indexes.get(j), ofShard.appended().get(j));
                }
                throw partly(done, events.size(), shard.getKey(), new UnreplicatedAppendException(indexes.size()
                        + " events are appended on the Redis master of shard " + shard.getKey() + " but not yet on "
                        + wait.replicas() + " of its replicas (" + ofShard.replicas() + " acknowledged within "
                        + wait.timeout().toMillis() + " ms, FP_INGEST_WAIT_REPLICAS); a failover of that master before"
                        + " they catch up could lose them, and sending them again is safe: they are found as duplicates",
                        unreplicated));
            }
            for (int j = 0; j < indexes.size(); j++) {
                appended[indexes.get(j)] = ofShard.appended().get(j);
                done.put(indexes.get(j), ofShard.appended().get(j));
            }
        }
        return List.of(appended);
    }

    /** The failure of a shard's append as it is, or, when other shards took their events, as a partial append. */
    private static RuntimeException partly(Map<Integer, Appended> done, int events, int shard, RuntimeException e) {
        if (done.isEmpty()) {
            return e;
        }
        return new PartlyAppendedException(done.size() + " of " + events + " events were appended; shard " + shard
                + " failed: " + e.getMessage(), done, e);
    }

    /** A shard's events where they landed, and how many replicas acknowledged them (when asked to wait). */
    private record ShardAppend(List<Appended> appended, long replicas) {
    }

    private ShardAppend append(int shard, List<Event> events) {
        String stream = shards.prefix(shard);
        String[] keys = new String[events.size() + 1];
        String[] args = new String[events.size() + 3];
        keys[0] = stream;
        args[0] = Long.toString(dedupeTtlMs);
        args[1] = Long.toString(maxBacklog);
        args[2] = Integer.toString(entryEvents);
        for (int i = 0; i < events.size(); i++) {
            keys[i + 1] = StreamKeys.ingestedMark(stream, events.get(i).key());
            args[i + 3] = codec.encode(events.get(i));
        }
        Reply reply;
        try {
            reply = waiting == null ? new Reply(appendScript.run(redis.shared().sync(), ScriptOutputType.MULTI, keys, args), 0)
                    : waiting.with(link -> appendAndWait(link, keys, args));
        } catch (RedisCommandExecutionException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("BACKLOG")) {
                throw new BacklogFullException(e.getMessage().substring("BACKLOG ".length())
                        + " (FP_STREAM_MAX_BACKLOG); the consumers are behind", e);
            }
            throw redis.failure("XADD to stream '" + stream + "'", e);
        } catch (RedisException e) {
            throw redis.failure("XADD to stream '" + stream + "'", e);
        }
        String shardPrefix = shards.count() == 1 ? "" : shard + ":";
        List<Appended> appended = new ArrayList<>(events.size());
        for (int i = 0; i < reply.values().size(); i += 2) {
            appended.add(new Appended(shardPrefix + reply.values().get(i), ((Long) reply.values().get(i + 1)) == 1L));
        }
        return new ShardAppend(appended, reply.replicas());
    }

    /** The append script's reply, and how many replicas acknowledged what it wrote. */
    private record Reply(List<Object> values, long replicas) {
    }

    /**
     * Appends over the connection to the master of the shard's slot, and waits there for its replicas: WAIT counts
     * the writes of its own connection before it. After a failover the old master is gone or answers MOVED; then
     * the topology is read again and the append runs once more on the new master, which finds what the first
     * attempt may have appended as duplicates.
     */
    private Reply appendAndWait(RedisConnections.Link link, String[] keys, String[] args) {
        for (int attempt = 1; ; attempt++) {
            try {
                RedisClusterCommands<String, String> master = link.master(keys[0]);
                List<Object> reply = appendScript.run(master, ScriptOutputType.MULTI, keys, args);
                if (allDuplicates(reply)) {
                    // nothing written, so WAIT would count only what this connection wrote before: rewriting a mark as
                    // it is counts every write the master made before it, those that appended these events too
                    master.set(keys[1], (String) reply.get(0), SetArgs.Builder.xx().keepttl());
                }
                return new Reply(reply, master.waitForReplication(wait.replicas(), wait.timeout().toMillis()));
            } catch (RedisException e) {
                if (attempt > 1 || !redis.cluster() || !movedOrGone(e)) {
                    throw e;
                }
                redis.refreshTopology();
            }
        }
    }

    private static boolean movedOrGone(RedisException e) {
        return e instanceof RedisConnectionException
                || e instanceof RedisCommandExecutionException && e.getMessage() != null && e.getMessage().startsWith("MOVED");
    }

    private static boolean allDuplicates(List<Object> reply) {
        for (int i = 1; i < reply.size(); i += 2) {
            if ((Long) reply.get(i) != 1L) {
                return false;
            }
        }
        return true;
    }
}
