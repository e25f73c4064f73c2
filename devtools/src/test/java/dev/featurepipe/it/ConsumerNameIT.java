package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.registry.BatchFeature;
import dev.featurepipe.offline.OfflineSink;
import dev.featurepipe.online.OnlineConsumer;
import dev.featurepipe.redis.RedisBatchValueStore;
import dev.featurepipe.redis.StreamKeys;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** Two pipelines of one host, both without FP_CONSUMER_NAME: each a consumer of its own, each its own claims. */
@ExtendWith(TestServices.class)
@Timeout(120)
class ConsumerNameIT {
    private static final String REGISTRY = "src/test/resources/registry/batch.yaml";
    private static final Set<Role> CONSUMERS = EnumSet.of(Role.ONLINE, Role.OFFLINE);

    @Test
    void twoProcessesOfAHostWithDefaultNamesAreDistinctConsumersAndARestartGetsItsNameBack() {
        Config config = TestServices.config(REGISTRY, Map.of());
        assertThat(config.get(Config.CONSUMER_NAME)).as("no name configured").isEmpty();
        String stream = config.get(Config.STREAM);
        String first;
        try (Pipeline a = Pipeline.start(config, CONSUMERS, Clock.systemUTC());
             Pipeline b = Pipeline.start(config, CONSUMERS, Clock.systemUTC())) {
            first = a.consumerName();
            assertThat(a.consumerName()).isNotEqualTo(b.consumerName());
            RedisClusterCommands<String, String> redis = a.redis().shared().sync();
            for (String group : List.of(OnlineConsumer.GROUP, OfflineSink.GROUP)) {
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(redis.zrange(StreamKeys.workers(stream, group), 0, -1))
                        .as("live workers of group " + group).containsExactlyInAnyOrder(a.consumerName(), b.consumerName()));
            }
            BatchFeature feature = a.registry().batchFeatures().get(0);
            assertThat(new RedisBatchValueStore(a.redis(), a.stores().shards(), a.consumerName()).tryLock(feature, Duration.ofMinutes(1)))
                    .as("claimed by the first").isTrue();
            assertThat(new RedisBatchValueStore(b.redis(), b.stores().shards(), b.consumerName()).tryLock(feature, Duration.ofMinutes(1)))
                    .as("refused to the second while the first holds it").isFalse();
        }
        try (Pipeline restarted = Pipeline.start(config, CONSUMERS, Clock.systemUTC())) {
            assertThat(restarted.consumerName()).as("a restart takes the freed name").isEqualTo(first);
        }
    }
}
