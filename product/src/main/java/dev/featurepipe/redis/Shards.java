package dev.featurepipe.redis;

import dev.featurepipe.core.EntityHash;
import io.lettuce.core.cluster.SlotHash;
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

    /** The first text, counting up, whose slot lies in the shard's share of the slots. */
    private static String tag(int shard, int count) {
        long from = (long) shard * SlotHash.SLOT_COUNT / count;
        long to = (long) (shard + 1) * SlotHash.SLOT_COUNT / count;
        for (int k = 0; ; k++) {
            int slot = SlotHash.getSlot(Integer.toString(k));
            if (slot >= from && slot < to) {
                return Integer.toString(k);
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

    @Override
    public String toString() {
        return prefixes.size() == 1 ? "stream " + prefixes.get(0) : prefixes.size() + " shards of stream " + stream;
    }
}
