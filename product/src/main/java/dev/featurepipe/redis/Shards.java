package dev.featurepipe.redis;

import dev.featurepipe.core.EntityHash;
import dev.featurepipe.core.FeaturepipeException;
import io.lettuce.core.RedisException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.util.ArrayList;
import java.util.List;

/**
 * How the event log is split: {@code count} streams, and an entity's events and state all on the shard its id
 * hashes to ({@link EntityHash}). On a cluster, or with more than one shard, the stream and every key of the
 * shard's entities start with {@code <stream>:{<tag>}}: Redis places a key by the text between its first braces,
 * so one script call over one shard's keys touches one slot, and an id holding braces itself cannot move its keys.
 * The tags are chosen so the shards' slots spread evenly over the 16384 slots, and with them over the masters of
 * a cluster whose masters split the slots evenly. One shard on one Redis keeps the names of an unsharded log.
 */
public final class Shards {
    /** The most shards a log may have. */
    public static final int MAX = 1024;
    /** Sets KEYS[1] to ARGV[1] unless it holds a value; returns the value it holds. */
    private static final String KEEP_COUNT = "local kept = redis.call('GET', KEYS[1])"
            + " if kept then return kept end redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1]";

    /**
     * The layout of the online state this version writes and reads: 2, a few hashes per entity. Layout 1 (a key per
     * entity and feature) was written before the layout was kept beside the stream.
     */
    static final String LAYOUT = "2";

    private final String stream;
    private final List<String> prefixes;

    /**
     * @param stream the log's name, the first part of every key; it holds no brace
     * @param count how many shards, 1 to {@link #MAX}
     * @param cluster whether the keys go to a Redis Cluster (then even one shard carries a tag)
     */
    public Shards(String stream, int count, boolean cluster) {
        if (count < 1 || count > MAX) {
            throw new IllegalArgumentException("shards must be between 1 and " + MAX + ", not " + count);
        }
        if (stream.indexOf('{') >= 0 || stream.indexOf('}') >= 0) {
            throw new IllegalArgumentException("a stream name holds no brace: '" + stream + "'");
        }
        this.stream = stream;
        List<String> p = new ArrayList<>(count);
        for (int s = 0; s < count; s++) {
            p.add(count == 1 && !cluster ? stream : stream + ":{" + tag(s, count) + "}");
        }
        this.prefixes = List.copyOf(p);
    }

    /** One shard on one Redis: the unsharded log. */
    public static Shards single(String stream) {
        return new Shards(stream, 1, false);
    }

    /** {@code <shard>-<k>} for the first k whose slot lies in the shard's share of the slots. */
    private static String tag(int shard, int count) {
        long from = (long) shard * SlotHash.SLOT_COUNT / count;
        long to = (long) (shard + 1) * SlotHash.SLOT_COUNT / count;
        for (int k = 0; ; k++) {
            String tag = shard + "-" + k;
            int slot = SlotHash.getSlot(tag);
            if (slot >= from && slot < to) {
                return tag;
            }
        }
    }

    public int count() {
        return prefixes.size();
    }

    /** The name of the log, which keys that belong to no entity start with. */
    public String stream() {
        return stream;
    }

    /** The shard of an entity id. */
    public int of(String entityId) {
        return prefixes.size() == 1 ? 0 : EntityHash.shard(entityId, prefixes.size());
    }

    /** The stream of a shard, which every key of its entities starts with. */
    public String prefix(int shard) {
        return prefixes.get(shard);
    }

    /** The stream of an entity's shard, which each of its keys starts with. */
    public String prefixOf(String entityId) {
        return prefixes.get(of(entityId));
    }

    /** The streams of all shards, by shard. */
    public List<String> streams() {
        return prefixes;
    }

    /**
     * Keeps the shard count and the online layout beside the stream when it is first used, and refuses another
     * count or layout afterwards: with another count every entity's state would be looked for under another shard's
     * keys, and with another layout under other keys or fields.
     *
     * @throws FeaturepipeException when the stream was made with another count or layout
     */
    public Shards check(RedisConnections redis) {
        checkLayout(redis);
        String key = StreamKeys.shardCount(stream);
        String count = Integer.toString(count());
        String kept;
        try {
            kept = redis.shared().sync().eval(KEEP_COUNT, ScriptOutputType.VALUE, new String[] {key}, count);
        } catch (RedisException e) {
            throw redis.failure("reading the shard count of " + stream, e);
        }
        if (!kept.equals(count)) {
            throw new FeaturepipeException("the stream " + stream + " has " + kept + " shard(s) (key " + key + "), but"
                    + " FP_STREAM_SHARDS is " + count + ": an entity's state is under its shard's keys, so the count is"
                    + " fixed for the life of a store (docs/scaling.md)");
        }
        return this;
    }

    /**
     * A stream whose shard count was kept without a layout has layout 1. (The stream itself may exist before the
     * first check: creating a consumer group creates it.)
     */
    private void checkLayout(RedisConnections redis) {
        String key = StreamKeys.layout(stream);
        String kept;
        try {
            RedisClusterCommands<String, String> sync = redis.shared().sync();
            kept = sync.get(key);
            if (kept == null) {
                kept = sync.exists(StreamKeys.shardCount(stream)) > 0 ? "1"
                        : sync.eval(KEEP_COUNT, ScriptOutputType.VALUE, new String[] {key}, LAYOUT);
            }
        } catch (RedisException e) {
            throw redis.failure("reading the online layout of " + stream, e);
        }
        if (!kept.equals(LAYOUT)) {
            throw new FeaturepipeException("the online state under the stream " + stream + " is in layout " + kept
                    + ", written by an earlier version; this version reads layout " + LAYOUT + " only. Run it on a new"
                    + " FP_STREAM (or delete the keys under " + stream + ") and send the events again (docs/decisions.md)");
        }
    }

    @Override
    public String toString() {
        return prefixes.size() == 1 ? "stream " + prefixes.get(0) : prefixes.size() + " shards of stream " + stream;
    }
}
