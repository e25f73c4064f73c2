package dev.featurepipe.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.featurepipe.config.Config;
import dev.featurepipe.it.TestServices;
import io.lettuce.core.Consumer;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Whether a group has caught up, as Redis reports it, also when its lag counter no longer adds up. */
@ExtendWith(TestServices.class)
class StreamGroupsIT {
    @Test
    void aGroupThatReadAndAcknowledgedEveryEntryHasCaughtUpWhateverItsLagSays() {
        Config config = TestServices.config("src/test/resources/registry/it.yaml", Map.of());
        try (RedisConnections redis = new RedisConnections(config.get(Config.REDIS_URL))) {
            RedisClusterCommands<String, String> sync = redis.shared().sync();
            String stream = "it-groups-" + UUID.randomUUID();
            RedisEventSource.ensureGroup(sync, stream, "g");
            String last = null;
            for (int i = 0; i < 3; i++) {
                last = sync.xadd(stream, Map.of("e", "x" + i));
            }
            assertThat(StreamGroups.status(sync, stream)).singleElement()
                    .satisfies(g -> assertThat(g.caughtUp()).as("nothing read yet").isFalse());

            List<StreamMessage<String, String>> read = sync.xreadgroup(Consumer.from("g", "c"),
                    XReadArgs.StreamOffset.lastConsumed(stream));
            assertThat(StreamGroups.status(sync, stream)).singleElement()
                    .satisfies(g -> assertThat(g.caughtUp()).as("read, not acknowledged").isFalse());
            sync.xack(stream, "g", read.stream().map(StreamMessage::getId).toArray(String[]::new));
            // what a stream loaded from the AOF can look like: more entries counted as added than the group read
            sync.eval("return redis.call('XSETID', KEYS[1], ARGV[1], 'ENTRIESADDED', ARGV[2])", ScriptOutputType.STATUS,
                    new String[] {stream}, last, "100");

            assertThat(StreamGroups.status(sync, stream)).singleElement().satisfies(g -> {
                assertThat(g.lag()).isPositive();
                assertThat(g.caughtUp()).isTrue();
            });
            sync.xadd(stream, Map.of("e", "later"));
            assertThat(StreamGroups.status(sync, stream)).singleElement()
                    .satisfies(g -> assertThat(g.caughtUp()).as("a new entry").isFalse());
        }
    }
}
