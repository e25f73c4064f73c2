package dev.featurepipe.redis;

import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** How far each consumer group of each shard's stream is behind (XINFO GROUPS). */
public final class StreamGroups {
    private StreamGroups() {
    }

    /**
     * One group: entries delivered but not acknowledged, entries not yet delivered (null: unknown), the id of the
     * last entry delivered, and the id of the stream's last entry.
     */
    public record GroupStatus(String name, long pending, Long lag, String lastDelivered, String streamLast) {
        /**
         * Every entry delivered and acknowledged. Compared by ids, not by {@code lag}: after Redis loads the stream
         * from its AOF, a group's lag can stay above 0 although it read everything.
         */
        public boolean caughtUp() {
            return pending == 0 && lastDelivered.equals(streamLast);
        }
    }

    /**
     * Waits until every group has caught up on every shard, calling {@code tick} about twice a second meanwhile.
     *
     * @return false when the timeout passed first
     */
    public static boolean awaitCaughtUp(RedisClusterCommands<String, String> redis, Shards shards, Duration timeout, Runnable tick)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<GroupStatus> groups = status(redis, shards);
            if (!groups.isEmpty() && groups.stream().allMatch(GroupStatus::caughtUp)) {
                return true;
            }
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            tick.run();
            Thread.sleep(500);
        }
    }

    /** Each group of each shard's stream, shard by shard. */
    public static List<GroupStatus> status(RedisClusterCommands<String, String> redis, Shards shards) {
        List<GroupStatus> groups = new ArrayList<>();
        shards.streams().forEach(stream -> groups.addAll(status(redis, stream)));
        return groups;
    }

    /** Each group of one stream. */
    public static List<GroupStatus> status(RedisClusterCommands<String, String> redis, String stream) {
        List<GroupStatus> groups = new ArrayList<>();
        if (redis.exists(stream) == 0) {
            return groups;
        }
        String last = String.valueOf(pairs(redis.xinfoStream(stream)).get("last-generated-id"));
        for (Object raw : redis.xinfoGroups(stream)) {
            Map<String, Object> info = pairs((List<?>) raw);
            groups.add(new GroupStatus(String.valueOf(info.get("name")), ((Number) info.get("pending")).longValue(),
                    info.get("lag") instanceof Number n ? n.longValue() : null, String.valueOf(info.get("last-delivered-id")),
                    last));
        }
        return groups;
    }

    private static Map<String, Object> pairs(List<?> reply) {
        Map<String, Object> info = new HashMap<>();
        for (int i = 0; i + 1 < reply.size(); i += 2) {
            info.put(String.valueOf(reply.get(i)), reply.get(i + 1));
        }
        return info;
    }
}
