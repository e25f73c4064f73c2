package dev.featurepipe.redis;

import dev.featurepipe.consumer.EventSource;
import io.lettuce.core.Consumer;
import io.lettuce.core.RedisBusyException;
import io.lettuce.core.RedisException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XAutoClaimArgs;
import io.lettuce.core.XGroupCreateArgs;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.models.stream.ClaimedMessages;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A consumer group's view of the event stream for one consumer: XREADGROUP, XAUTOCLAIM, XACK, and beside the
 * stream the group's failure counts and the dead-letter stream. An entry holds one or more events, one per line (see {@link RedisEventLog}).
 * Blocking reads go over a connection of their own, so they hold up no other command.
 */
public final class RedisEventSource implements EventSource {
    /** Adds a dead letter, trimming the stream to ARGV[1] entries exactly; returns how many it dropped. */
    private static final String ADD_DEAD_LETTER = "local n = redis.call('XLEN', KEYS[1]) + 1 - tonumber(ARGV[1])"
            + " redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'id', ARGV[2], 'group', ARGV[3], 'reason', ARGV[4], 'e', ARGV[5])"
            + " return math.max(n, 0)";
    private static final String COUNT_FAILURE = "for _, id in ipairs(ARGV) do redis.call('HINCRBY', KEYS[1], id, 1) end return 0";

    private static final int TAKE_OVER_PAGE = 1000;

    private final RedisConnections redis;
    private final int maxDeadLetters;
    private final String stream;
    private final String failures;
    private final Consumer<String> me;
    private RedisConnections.Link reader;
    private String claimCursor = "0-0";

    /** @param maxDeadLetters the most entries the dead-letter stream keeps */
    public RedisEventSource(RedisConnections redis, String stream, String group, String consumer, int maxDeadLetters) {
        this.redis = redis;
        this.maxDeadLetters = maxDeadLetters;
        this.stream = stream;
        this.me = Consumer.from(group, consumer);
        this.failures = StreamKeys.failures(stream, group);
        ensureGroup(redis.shared().sync(), stream, group);
    }

    /** Creates the group at the start of the stream (and the stream) unless it exists. */
    public static void ensureGroup(RedisClusterCommands<String, String> redis, String stream, String group) {
        try {
            redis.xgroupCreate(XReadArgs.StreamOffset.from(stream, "0"), group, XGroupCreateArgs.Builder.mkstream());
        } catch (RedisBusyException e) {
            // BUSYGROUP: it exists already
        }
    }

    @Override
    public List<Entry> read(int entries, Duration block) {
        return calling("reading", () -> entries(reader().xreadgroup(me, XReadArgs.Builder.count(entries).block(block),
                XReadArgs.StreamOffset.lastConsumed(stream))));
    }

    @Override
    public List<Entry> readOwnPending(int entries) {
        return calling("re-reading pending entries", () -> entries(reader().xreadgroup(me,
                XReadArgs.Builder.count(entries), XReadArgs.StreamOffset.from(stream, "0"))));
    }

    @Override
    public List<Entry> claim(int entries, Duration minIdle) {
        return calling("claiming idle entries", () -> {
            ClaimedMessages<String, String> result = reader().xautoclaim(stream, new XAutoClaimArgs<String>()
                    .consumer(me).minIdleTime(minIdle).startId(claimCursor).count(entries));
            claimCursor = result.getId();
            return entries(result.getMessages().stream().filter(m -> m.getBody() != null).toList());
        });
    }

    /**
     * Makes every entry of the group pending on another consumer pending on this one, to be re-read as its own:
     * for a consumer that just took the shard, whose earlier holders are gone. Returns how many it took.
     */
    public long takeOverPending() {
        return calling("taking over pending entries", () -> {
            long taken = 0;
            String cursor = "0-0";
            do {
                ClaimedMessages<String, String> result = redis.shared().sync().xautoclaim(stream, new XAutoClaimArgs<String>()
                        .consumer(me).minIdleTime(0).startId(cursor).count(TAKE_OVER_PAGE).justid());
                taken += result.getMessages().size();
                cursor = result.getId();
            } while (!cursor.equals("0-0"));
            return taken;
        });
    }

    @Override
    public Map<String, Long> failures(List<Entry> entries) {
        return calling("reading failure counts", () -> {
            Map<String, Long> counts = new HashMap<>();
            redis.shared().sync().hmget(failures, entries.stream().map(Entry::id).toArray(String[]::new))
                    .forEach(kv -> kv.ifHasValue(v -> counts.put(kv.getKey(), Long.parseLong(v))));
            return counts;
        });
    }

    @Override
    public void countFailure(List<String> ids) {
        calling("counting a failure", () -> redis.shared().sync().eval(COUNT_FAILURE, ScriptOutputType.INTEGER,
                new String[] {failures}, ids.toArray(String[]::new)));
    }

    @Override
    public void acknowledge(List<String> ids, List<String> failed) {
        calling("acknowledging " + ids.size() + " entries", () -> redis.shared().sync().xack(stream, me.getGroup(),
                ids.toArray(String[]::new)));
        if (!failed.isEmpty()) {
            calling("forgetting failure counts", () -> redis.shared().sync().hdel(failures, failed.toArray(String[]::new)));
        }
    }

    @Override
    public long deadLetter(DeadLetter letter) {
        return calling("writing a dead letter", () -> redis.shared().sync().<Long>eval(ADD_DEAD_LETTER, ScriptOutputType.INTEGER,
                new String[] {StreamKeys.deadLetters(stream)}, Integer.toString(maxDeadLetters), letter.position(),
                letter.group(), letter.reason(), letter.payload()));
    }

    @Override
    public String name() {
        return stream;
    }

    @Override
    public String describe() {
        return "stream " + stream;
    }

    private RedisClusterCommands<String, String> reader() {
        if (reader == null) {
            reader = redis.dedicated();
        }
        return reader.sync();
    }

    /** Closes the connection of the blocking reads: a consumer of a shard given up leaves none behind. */
    @Override
    public void close() {
        if (reader != null) {
            redis.release(reader);
            reader = null;
        }
    }

    private <T> T calling(String doing, Supplier<T> call) {
        try {
            return call.get();
        } catch (RedisException e) {
            throw redis.failure(doing + " on stream " + stream + " (group " + me.getGroup() + ")", e);
        }
    }

    private static List<Entry> entries(List<StreamMessage<String, String>> messages) {
        List<Entry> entries = new ArrayList<>(messages.size());
        for (StreamMessage<String, String> m : messages) {
            entries.add(new Entry(m.getId(), List.of(m.getBody().getOrDefault("e", "").split("\n", -1))));
        }
        return entries;
    }
}
