package dev.featurepipe.redis;

import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** How far each consumer group of the stream is behind (XINFO GROUPS). */
public final class StreamGroups {
    private StreamGroups() {
    }

    /**
     * One group: entries delivered but not acknowledged, entries not yet delivered (null: unknown), and the id of
     * the last entry delivered.
     */
    public record GroupStatus(String name, long pending, Long lag, String lastDelivered) {
        public boolean caughtUp() {
            return pending == 0 && lag != null && lag == 0;
        }
    }

    /**
     * Waits until every group has caught up, calling {@code tick} about twice a second meanwhile.
     *
     * @return false when the timeout passed first
     */
    public static boolean awaitCaughtUp(RedisCommands<String, String> redis, String stream, Duration timeout, Runnable tick)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<GroupStatus> groups = status(redis, stream);
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

    public static List<GroupStatus> status(RedisCommands<String, String> redis, String stream) {
        List<GroupStatus> groups = new ArrayList<>();
        if (redis.exists(stream) == 0) {
            return groups;
        }
        for (Object raw : redis.xinfoGroups(stream)) {
            Map<String, Object> info = new HashMap<>();
            List<?> pairs = (List<?>) raw;
            for (int i = 0; i + 1 < pairs.size(); i += 2) {
                info.put(String.valueOf(pairs.get(i)), pairs.get(i + 1));
            }
            groups.add(new GroupStatus(String.valueOf(info.get("name")), ((Number) info.get("pending")).longValue(),
                    info.get("lag") instanceof Number n ? n.longValue() : null, String.valueOf(info.get("last-delivered-id"))));
        }
        return groups;
    }
}
