package dev.featurepipe.redis;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.EventCodec;
import dev.featurepipe.core.EventLog;
import dev.featurepipe.core.BacklogFullException;
import dev.featurepipe.core.PartlyAppendedException;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.ScriptOutputType;
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
 */
public final class RedisEventLog implements EventLog {
    private final RedisConnections redis;
    private final EventCodec codec;
    private final Shards shards;
    private final long dedupeTtlMs;
    private final long maxBacklog;
    private final int entryEvents;
    private final RedisScript appendScript;

    /**
     * @param maxBacklog the most entries each shard's stream may hold; an append beyond it is refused as a whole
     * @param entryEvents the most events one stream entry holds
     */
    public RedisEventLog(RedisConnections redis, EventCodec codec, Shards shards, Duration dedupeTtl, long maxBacklog,
                         int entryEvents) {
        this.redis = redis;
        this.codec = codec;
        this.shards = shards;
        this.dedupeTtlMs = dedupeTtl.toMillis();
        this.maxBacklog = maxBacklog;
        this.entryEvents = entryEvents;
        this.appendScript = RedisScript.load("append.lua");
    }

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
            List<Appended> ofShard;
            try {
                ofShard = append(shard.getKey(), indexes.stream().map(events::get).toList());
            } catch (RuntimeException e) {
                if (done.isEmpty()) {
                    throw e;
                }
                throw new PartlyAppendedException(done.size() + " of " + events.size() + " events were appended;"
                        + " shard " + shard.getKey() + " failed: " + e.getMessage(), done, e);
            }
            for (int j = 0; j < indexes.size(); j++) {
                appended[indexes.get(j)] = ofShard.get(j);
                done.put(indexes.get(j), ofShard.get(j));
            }
        }
        return List.of(appended);
    }

    private List<Appended> append(int shard, List<Event> events) {
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
        List<Object> reply;
        try {
            reply = appendScript.run(commands(), ScriptOutputType.MULTI, keys, args);
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
        for (int i = 0; i < reply.size(); i += 2) {
            appended.add(new Appended(shardPrefix + reply.get(i), ((Long) reply.get(i + 1)) == 1L));
        }
        return appended;
    }

    private RedisClusterCommands<String, String> commands() {
        return redis.shared().sync();
    }
}
