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

/** The event log as a Redis Stream, appended to by one Lua call per request so a request is all or nothing. */
public final class RedisEventLog implements EventLog {
    private final RedisConnections redis;
    private final EventCodec codec;
    private final String stream;
    private final long dedupeTtlMs;
    private final long maxBacklog;
    private final RedisScript appendScript;

    /** @param maxBacklog the most entries the stream may hold; an append beyond it is refused as a whole */
    public RedisEventLog(RedisConnections redis, EventCodec codec, String stream, Duration dedupeTtl, long maxBacklog) {
        this.redis = redis;
        this.codec = codec;
        this.stream = stream;
        this.dedupeTtlMs = dedupeTtl.toMillis();
        this.maxBacklog = maxBacklog;
        this.appendScript = RedisScript.load(commands(), "append.lua");
    }

    @Override
    public List<Appended> append(List<Event> events) {
        String[] keys = new String[events.size() + 1];
        String[] args = new String[events.size() + 2];
        keys[0] = stream;
        args[0] = Long.toString(dedupeTtlMs);
        args[1] = Long.toString(maxBacklog);
        for (int i = 0; i < events.size(); i++) {
            keys[i + 1] = StreamKeys.ingestedMark(stream, events.get(i).id());
            args[i + 2] = codec.encode(events.get(i));
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
