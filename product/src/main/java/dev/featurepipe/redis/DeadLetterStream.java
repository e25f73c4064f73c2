package dev.featurepipe.redis;

import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.RedisException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The dead letters of a stream ({@code <stream>:dead}), for an operator: listed, and replayed once the cause is
 * mended. A replayed letter goes back to the end of the event stream as an entry of its own, and leaves the
 * dead-letter stream in the same script call; every group then sees it again, and each applies it once, since
 * every store is idempotent by event key (type, entity, event_id) (a group that wrote it before changes nothing).
 */
public final class DeadLetterStream {
    /** Appends ARGV[2] as an entry of KEYS[1] and removes the letter ARGV[1] from KEYS[2], if it is still there. */
    private static final String REPLAY = "if redis.call('XDEL', KEYS[2], ARGV[1]) == 0 then return nil end"
            + " return redis.call('XADD', KEYS[1], '*', 'e', ARGV[2])";
    private static final int PAGE = 500;

    /** A dead letter: its id in the dead-letter stream, and what the consumer wrote. */
    public record Letter(String id, String position, String group, String reason, String payload) {
    }

    private final RedisConnections redis;
    private final String stream;

    public DeadLetterStream(RedisConnections redis, String stream) {
        this.redis = redis;
        this.stream = stream;
    }

    /** Up to {@code limit} letters after {@code after} (exclusive; "-" for the first), oldest first. */
    public List<Letter> list(String after, int limit) {
        try {
            Range<String> range = Range.from(after.equals("-") ? Range.Boundary.unbounded() : Range.Boundary.excluding(after),
                    Range.Boundary.unbounded());
            return redis.shared().sync().xrange(StreamKeys.deadLetters(stream), range, Limit.from(limit)).stream()
                    .map(DeadLetterStream::letter).toList();
        } catch (RedisException e) {
            throw redis.failure("listing the dead letters of " + stream, e);
        }
    }

    public long size() {
        try {
            return redis.shared().sync().xlen(StreamKeys.deadLetters(stream));
        } catch (RedisException e) {
            throw redis.failure("counting the dead letters of " + stream, e);
        }
    }

    /** Puts the letter's events back on the stream; returns the new entry's id, or null if it was replayed already. */
    public String replay(Letter letter) {
        try {
            RedisClusterCommands<String, String> sync = redis.shared().sync();
            return sync.eval(REPLAY, ScriptOutputType.VALUE, new String[] {stream, StreamKeys.deadLetters(stream)},
                    letter.id(), letter.payload());
        } catch (RedisException e) {
            throw redis.failure("replaying dead letter " + letter.id() + " of " + stream, e);
        }
    }

    /** Every letter, oldest first, a page at a time, handed to {@code each}; returns how many there were. */
    public long forEach(Consumer<Letter> each) {
        long seen = 0;
        String after = "-";
        for (List<Letter> page = list(after, PAGE); !page.isEmpty(); page = list(after, PAGE)) {
            page.forEach(each);
            seen += page.size();
            after = page.get(page.size() - 1).id();
        }
        return seen;
    }

    private static Letter letter(StreamMessage<String, String> m) {
        Map<String, String> body = m.getBody();
        return new Letter(m.getId(), body.get("id"), body.get("group"), body.get("reason"), body.getOrDefault("e", ""));
    }
}
