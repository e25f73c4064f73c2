package dev.featurepipe.redis;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.EventCodec;
import dev.featurepipe.core.EventLog;
import dev.featurepipe.core.BacklogFullException;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The event log as a Redis Stream, appended to by one Lua call per request so a request is all or nothing. The
 * events of a request share entries, up to {@code entryEvents} per entry, one encoded event per line: the stream
 * and its consumers then pay per entry, not per event. An event's position is {@code <entry id>/<index>}.
 */
public final class RedisEventLog implements EventLog {
    private final RedisConnections redis;
    private final EventCodec codec;
    private final String stream;
    private final long dedupeTtlMs;
    private final long maxBacklog;
    private final int entryEvents;
    private final RedisScript appendScript;

    /**
     * @param maxBacklog the most entries the stream may hold; an append beyond it is refused as a whole
     * @param entryEvents the most events one stream entry holds
     */
    public RedisEventLog(RedisConnections redis, EventCodec codec, String stream, Duration dedupeTtl, long maxBacklog,
                         int entryEvents) {
        this.redis = redis;
        this.codec = codec;
        this.stream = stream;
        this.dedupeTtlMs = dedupeTtl.toMillis();
        this.maxBacklog = maxBacklog;
        this.entryEvents = entryEvents;
        this.appendScript = RedisScript.load(commands(), "append.lua");
    }

    @Override
    public List<Appended> append(List<Event> events) {
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
        List<Appended> appended = new ArrayList<>(events.size());
        for (int i = 0; i < reply.size(); i += 2) {
            appended.add(new Appended((String) reply.get(i), ((Long) reply.get(i + 1)) == 1L));
        }
        return appended;
    }

    private RedisCommands<String, String> commands() {
        return redis.shared().sync();
    }
}
