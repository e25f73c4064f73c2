package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import dev.featurepipe.offline.OfflineSink;
import dev.featurepipe.online.OnlineConsumer;
import io.lettuce.core.Consumer;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** The stream stays bounded: trimmed only below what every group has acknowledged, and backpressure beyond a bound. */
@ExtendWith(TestServices.class)
@Timeout(60)
class StreamBoundsIT {
    private final ObjectMapper json = new ObjectMapper();

    private String events(int n) {
        ArrayNode array = json.createArrayNode();
        for (int i = 0; i < n; i++) {
            array.addObject().put("event_id", UUID.randomUUID().toString()).put("event_type", "order")
                    .put("user_id", "u1").put("amount", 1.5).put("sku", "a");
        }
        return array.toString();
    }

    @Test
    void aFullStreamRefusesWholeRequestsWith503AndTrimmingKeepsWhatAGroupStillNeeds() {
        Config config = TestServices.config("src/test/resources/registry/it.yaml",
                Map.of(Config.STREAM_MAX_BACKLOG, "20", Config.STREAM_TRIM_INTERVAL, "100ms",
                        Config.STREAM_ENTRY_EVENTS, "1")); // one entry per event, so entries can be counted here
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST), Clock.systemUTC())) {
            String stream = pipeline.stores().shards().prefixOf("u1"); // every event is u1's
            Api api = new Api(pipeline.httpPort());
            RedisClusterCommands<String, String> redis = pipeline.redis().shared().sync();

            assertThat(api.post("/v1/events", "application/json", events(15)).status()).isEqualTo(202);
            Api.Reply refused = api.post("/v1/events", "application/json", events(10));

            assertThat(refused.status()).isEqualTo(503);
            assertThat(refused.headers().firstValue("Retry-After")).contains("1");
            assertThat(refused.body().get("error").asText()).contains("FP_STREAM_MAX_BACKLOG");
            assertThat(redis.xlen(stream)).isEqualTo(15); // nothing of the refused request was written

            // the online group processes everything, the offline group only the first 5: 10 are still needed
            consume(redis, stream, OnlineConsumer.GROUP, 15);
            List<StreamMessage<String, String>> offline = consume(redis, stream, OfflineSink.GROUP, 5);
            await().atMost(Duration.ofSeconds(10)).until(() -> redis.xlen(stream) == 11);
            assertThat(redis.xrange(stream, Range.create("-", "+")).get(0).getId())
                    .isEqualTo(offline.get(4).getId());

            consume(redis, stream, OfflineSink.GROUP, 10);
            await().atMost(Duration.ofSeconds(10)).until(() -> redis.xlen(stream) == 1);
            assertThat(api.post("/v1/events", "application/json", events(10)).status()).isEqualTo(202);
        }
    }

    /** Reads and acknowledges n entries as a consumer of the group. */
    private static List<StreamMessage<String, String>> consume(RedisClusterCommands<String, String> redis, String stream,
                                                               String group, int n) {
        List<StreamMessage<String, String>> read = redis.xreadgroup(Consumer.from(group, "test"), XReadArgs.Builder.count(n),
                XReadArgs.StreamOffset.lastConsumed(stream));
        redis.xack(stream, group, read.stream().map(StreamMessage::getId).toArray(String[]::new));
        return read;
    }
}
