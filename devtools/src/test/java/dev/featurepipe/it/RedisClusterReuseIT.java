package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode.NodeFlag;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What an integration test gets from {@link TestRedisCluster}: one running cluster per shape and test run. */
class RedisClusterReuseIT {
    @RegisterExtension
    static final TestRedisCluster CLUSTER = new TestRedisCluster(3, 0, 0);
    @RegisterExtension
    static final TestRedisCluster SAME_SHAPE = new TestRedisCluster(3, 0, 0);

    @Test
    void aTestGetsTheSeedUrlOfAClusterServingEverySlot() {
        int base = TestRedisCluster.BASE_PORT;
        assertThat(CLUSTER.url()).isEqualTo("redis-cluster://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", base, base + 1, base + 2);
        assertThat(SAME_SHAPE.url()).isEqualTo(CLUSTER.url());
        List<RedisURI> seeds = Arrays.stream(CLUSTER.url().substring("redis-cluster://".length()).split(","))
                .map(seed -> RedisURI.create("redis://" + seed)).toList();
        RedisClusterClient client = RedisClusterClient.create(seeds);
        try (StatefulRedisClusterConnection<String, String> c = client.connect()) {
            List<RedisClusterNode> masters = client.getPartitions().stream().filter(n -> n.is(NodeFlag.UPSTREAM)).toList();
            assertThat(masters).hasSize(3);
            assertThat(masters.stream().mapToInt(n -> n.getSlots().size()).sum()).isEqualTo(SlotHash.SLOT_COUNT);
            for (int i = 0; i < 30; i++) { // keys of every master
                assertThat(c.sync().set("it:helper:" + i, "v" + i)).isEqualTo("OK");
                assertThat(c.sync().get("it:helper:" + i)).isEqualTo("v" + i);
            }
        } finally {
            client.shutdown();
        }
    }
}
