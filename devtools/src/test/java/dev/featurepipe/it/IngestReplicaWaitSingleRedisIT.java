package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import io.lettuce.core.Range;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * FP_INGEST_WAIT_REPLICAS on one Redis with a replica (no cluster): a 202 comes once the replica holds the events,
 * a replica that does not answer (SIGSTOP) makes it a 503, and once it runs again the same request is a 202 of
 * duplicates. Servers of its own, in memory.
 */
@Timeout(120)
class IngestReplicaWaitSingleRedisIT {
    private static final int MASTER = 16379 + TestServices.OFFSET + 121;
    private static final int REPLICA = MASTER + 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aReplicaOfOneRedisIsWaitedFor() throws Exception {
        try (ExtraRedis master = ExtraRedis.start(MASTER, List.of());
             ExtraRedis replica = ExtraRedis.start(REPLICA, List.of("--replicaof", "127.0.0.1", Integer.toString(MASTER)))) {
            RedisClient client = RedisClient.create(RedisURI.create("127.0.0.1", REPLICA));
            try (StatefulRedisConnection<String, String> onReplica = client.connect()) {
                await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() ->
                        onReplica.sync().info("replication").contains("master_link_status:up"));
                Config config = TestServices.config("src/test/resources/registry/it.yaml", Map.of(
                        Config.REDIS_URL, "redis://127.0.0.1:" + MASTER, Config.STREAM_SHARDS, "1",
                        Config.INGEST_WAIT_REPLICAS, "1", Config.INGEST_WAIT_TIMEOUT, "300ms"));
                try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST), Clock.systemUTC())) {
                    Api api = new Api(pipeline.httpPort());
                    String stream = config.get(Config.STREAM);
                    ArrayNode first = batch("one-");
                    assertThat(api.post("/v1/events", "application/json", first.toString()).status()).isEqualTo(202);
                    // WAIT returned: the replica holds them already, no polling needed
                    assertThat(ids(onReplica, stream)).containsAll(ids(first));

                    ArrayNode second = batch("two-");
                    signal("STOP", replica.pid());
                    Api.Reply refused;
                    try {
                        refused = api.post("/v1/events", "application/json", second.toString());
                    } finally {
                        signal("CONT", replica.pid());
                    }
                    assertThat(refused.status()).isEqualTo(503);
                    assertThat(refused.headers().firstValue("Retry-After")).hasValue("1");
                    assertThat(refused.body().path("error").asText()).contains("3 events are appended on the Redis"
                            + " master of shard 0 but not yet on 1 of its replicas (0 acknowledged within 300 ms");
                    Api.Reply again = api.post("/v1/events", "application/json", second.toString());
                    assertThat(again.status()).isEqualTo(202);
                    assertThat(again.body().path("duplicates").asInt()).isEqualTo(3);
                    assertThat(ids(onReplica, stream)).containsAll(ids(second));
                }
            } finally {
                client.shutdown();
            }
        }
    }

    private static ArrayNode batch(String prefix) {
        ArrayNode batch = JSON.createArrayNode();
        for (int k = 0; k < 3; k++) {
            batch.addObject().put("event_id", prefix + k).put("event_type", "order").put("user_id", "u" + k)
                    .put("amount", 1.5).put("sku", "a");
        }
        return batch;
    }

    private static List<String> ids(ArrayNode batch) {
        List<String> ids = new ArrayList<>();
        batch.forEach(e -> ids.add(e.path("event_id").asText()));
        return ids;
    }

    private static Set<String> ids(StatefulRedisConnection<String, String> redis, String stream) throws IOException {
        Set<String> ids = new HashSet<>();
        for (StreamMessage<String, String> m : redis.sync().xrange(stream, Range.create("-", "+"))) {
            for (String line : m.getBody().get("e").split("\n")) {
                ids.add(JSON.readTree(line).path("id").asText());
            }
        }
        return ids;
    }

    private static void signal(String signal, long pid) throws IOException, InterruptedException {
        assertThat(new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start().waitFor())
                .as("kill -" + signal + " " + pid).isZero();
    }
}
