package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import dev.featurepipe.redis.Shards;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.io.IOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A request whose events fall on two shards, one of which cannot take them (its stream is at its bound): the
 * answer is a 503 naming the events that are in, and the same request sent again appends each event once.
 */
@ExtendWith(TestServices.class)
@Timeout(60)
class ShardedIngestIT {
    private static final int MAX_BACKLOG = 5;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aShardThatFailsLeavesTheOthersAppendedAndTheRetryAppendsEachEventOnce() throws IOException {
        Config config = TestServices.config("src/test/resources/registry/it.yaml", Map.of(Config.STREAM_SHARDS, "2",
                Config.STREAM_MAX_BACKLOG, Integer.toString(MAX_BACKLOG)));
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST), Clock.systemUTC())) {
            Shards shards = pipeline.stores().shards();
            RedisClusterCommands<String, String> redis = pipeline.redis().shared().sync();
            String run = UUID.randomUUID().toString().substring(0, 8);
            List<String> users = IntStream.range(0, 100).mapToObj(i -> run + "-" + i).toList();
            String onFirst = users.stream().filter(u -> shards.of(u) == 0).findFirst().orElseThrow();
            String onSecond = users.stream().filter(u -> shards.of(u) == 1).findFirst().orElseThrow();
            // the second shard's stream is full, so its part of the request is refused
            List<String> filler = new ArrayList<>();
            for (int i = 0; i < MAX_BACKLOG; i++) {
                filler.add(redis.xadd(shards.prefix(1), Map.of("e", "filler")));
            }
            List<Map<String, Object>> events = List.of(order("a", onFirst), order("b", onSecond), order("c", onFirst));
            Api api = new Api(pipeline.httpPort());

            Api.Reply partly = api.postJson("/v1/events", events);
            assertThat(partly.status()).isEqualTo(503);
            assertThat(partly.headers().firstValue("Retry-After")).contains("1");
            assertThat(partly.body().get("error").asText()).contains("2 of 3 events were appended", "FP_STREAM_MAX_BACKLOG");
            assertThat(partly.body().get("details")).extracting(d -> d.get("index").asInt()).containsExactly(0, 2);
            assertThat(partly.body().get("details")).extracting(d -> d.get("event_id").asText()).containsExactly("a", "c");
            assertThat(partly.body().get("details")).allSatisfy(d -> assertThat(d.get("position").asText()).startsWith("0:"));
            assertThat(eventIds(redis, shards)).containsExactlyInAnyOrder("a", "c");

            redis.xdel(shards.prefix(1), filler.toArray(String[]::new));
            Api.Reply again = api.postJson("/v1/events", events);
            assertThat(again.status()).isEqualTo(202);
            assertThat(again.body().get("accepted").asInt()).isEqualTo(3);
            assertThat(again.body().get("duplicates").asInt()).as("a and c were in").isEqualTo(2);
            assertThat(again.body().get("ids")).extracting(JsonNode::asText)
                    .satisfies(ids -> assertThat(ids.get(1)).startsWith("1:"));
            assertThat(eventIds(redis, shards)).containsExactlyInAnyOrder("a", "b", "c");
            assertThat(api.getText("/metrics")).contains("featurepipe_ingest_partly_appended_total 1.0");
        }
    }

    private static Map<String, Object> order(String id, String user) {
        return Map.of("event_id", id, "event_type", "order", "user_id", user, "amount", 1.5, "sku", "a");
    }

    /** The event ids in every shard's stream, once per time they are there. */
    private static List<String> eventIds(RedisClusterCommands<String, String> redis, Shards shards) throws IOException {
        List<String> ids = new ArrayList<>();
        for (String stream : shards.streams()) {
            for (StreamMessage<String, String> m : redis.xrange(stream, Range.create("-", "+"))) {
                for (String line : m.getBody().get("e").split("\n")) {
                    if (line.startsWith("{")) {
                        ids.add(JSON.readTree(line).get("id").asText());
                    }
                }
            }
        }
        return ids;
    }
}
