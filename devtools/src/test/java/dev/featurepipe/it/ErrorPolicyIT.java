package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.cli.Main;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.config.Config;
import dev.featurepipe.offline.OfflineSink;
import dev.featurepipe.online.OnlineConsumer;
import dev.featurepipe.redis.StreamGroups;
import dev.featurepipe.redis.StreamKeys;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.bson.Document;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each store's errors reach the consumers as one of three outcomes, on the real servers: an event MongoDB cannot
 * apply is dead-lettered alone, ClickHouse's unwritable table is waited for, and a broken invariant in Redis stops
 * the online consumer with /readyz naming it.
 */
@ExtendWith(TestServices.class)
@Timeout(120)
class ErrorPolicyIT {
    private static final String REGISTRY = "src/test/resources/registry/it.yaml";

    private static Map<String, Object> order(String id, String user) {
        return Map.of("event_id", id, "event_type", "order", "user_id", user, "amount", 5.0, "sku", "a", "country", "FR");
    }

    private static List<StreamMessage<String, String>> deadLetters(Pipeline pipeline, Config config) {
        return TestServices.deadLetters(pipeline);
    }

    /** The group has caught up on every shard. */
    private static boolean caughtUp(Pipeline pipeline, Config config, String group) {
        List<StreamGroups.GroupStatus> of = StreamGroups.status(pipeline.redis().shared().sync(), pipeline.stores().shards())
                .stream().filter(g -> g.name().equals(group)).toList();
        return of.size() == pipeline.stores().shards().count() && of.stream().allMatch(StreamGroups.GroupStatus::caughtUp);
    }

    @Test
    void anEventWhoseFieldChangedTypeSinceIngestIsDeadLetteredNotConverted(@TempDir Path dir) throws IOException {
        Config ingestConfig = TestServices.config(REGISTRY, Map.of());
        try (Pipeline ingest = Pipeline.start(ingestConfig, EnumSet.of(Role.INGEST), Clock.systemUTC())) {
            Map<String, Object> fractional = new HashMap<>(order("fractional", "u-changed"));
            fractional.put("amount", 2.55);
            assertThat(new Api(ingest.httpPort()).postJson("/v1/events", List.of(fractional)).status()).isEqualTo(202);
        }
        Path changed = dir.resolve("amount-long.yaml");
        Files.writeString(changed, Files.readString(Path.of(REGISTRY))
                .replace("amount:  {type: double, required: true}", "amount:  {type: long, required: true}"));
        Config config = ingestConfig.with(Map.of(Config.REGISTRY, changed.toString()));

        try (Pipeline online = Pipeline.start(config, EnumSet.of(Role.ONLINE, Role.SERVE), Clock.systemUTC())) {
            await().atMost(Duration.ofSeconds(60)).until(() -> caughtUp(online, config, OnlineConsumer.GROUP));
            assertThat(deadLetters(online, config)).singleElement().satisfies(m -> {
                assertThat(m.getBody().get("e")).contains("\"fractional\"");
                assertThat(m.getBody().get("reason")).contains("'amount'", "a fractional number", "not a long");
            });
            Api.Reply served = new Api(online.httpPort()).get("/v1/features/user/u-changed?features=spend_1h,total_spend");
            assertThat(served.body().at("/status/spend_1h").asText()).isEqualTo("missing");
            assertThat(served.body().at("/status/total_spend").asText()).isEqualTo("missing");
        }
    }

    @Test
    void anIncOnAProfileFieldHoldingAStringDeadLettersThatEventAloneAndTheGroupGoesOn() {
        Config config = TestServices.config(REGISTRY, Map.of());
        String broken = "broken-" + UUID.randomUUID();
        String healthy = "healthy-" + UUID.randomUUID();
        try (MongoClient mongo = MongoClients.create(TestServices.MONGO);
             Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST, Role.ONLINE, Role.SERVE), Clock.systemUTC())) {
            mongo.getDatabase(config.get(Config.MONGO_DATABASE)).getCollection("user")
                    .insertOne(new Document("_id", broken).append("total_spend", "a lot"));
            Api api = new Api(pipeline.httpPort());
            List<Map<String, Object>> events = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                events.add(order("h" + i, healthy));
            }
            events.add(10, order("poison", broken));
            assertThat(api.postJson("/v1/events", events).status()).isEqualTo(202);
            assertThat(api.postJson("/v1/events", List.of(order("after", healthy))).status()).isEqualTo(202);

            await().atMost(Duration.ofSeconds(60)).until(() -> caughtUp(pipeline, config, OnlineConsumer.GROUP));
            assertThat(deadLetters(pipeline, config)).singleElement().satisfies(m -> {
                assertThat(m.getBody().get("group")).isEqualTo(OnlineConsumer.GROUP);
                assertThat(m.getBody().get("e")).contains("\"poison\"");
                assertThat(m.getBody().get("reason")).contains("MongoDB").contains("total_spend");
            });
            Api.Reply profile = api.get("/v1/features/user/" + healthy + "?features=order_count,total_spend");
            assertThat(profile.body().get("features").get("order_count").asLong()).isEqualTo(21);
            assertThat(profile.body().get("features").get("total_spend").asDouble()).isEqualTo(105.0);
            await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/readyz").status() == 200);
            assertThat(api.getText("/metrics")).contains("featurepipe_consumer_failures_total{group=\"online\",outcome=\"poison\"}");
            assertThat(deadLetterCommand(config, "list")).anyMatch(line -> line.contains("total_spend"))
                    .last().isEqualTo("dead-letters: 1 of 1 listed");

            // mended, then replayed: its profile update is applied, and its online side, applied before, is not again
            mongo.getDatabase(config.get(Config.MONGO_DATABASE)).getCollection("user")
                    .updateOne(new Document("_id", broken), new Document("$unset", new Document("total_spend", "")));
            assertThat(deadLetterCommand(config, "replay")).last().isEqualTo("dead-letters: 1 replayed onto "
                    + config.get(Config.STREAM) + " (0 left)");
            await().atMost(Duration.ofSeconds(60)).until(() -> caughtUp(pipeline, config, OnlineConsumer.GROUP)
                    && api.get("/v1/features/user/" + broken + "?features=total_spend").body().get("features")
                    .get("total_spend").isNumber());
            Api.Reply replayed = api.get("/v1/features/user/" + broken + "?features=total_spend,order_count,orders_1h");
            assertThat(replayed.body().get("features").get("total_spend").asDouble()).isEqualTo(5.0);
            assertThat(replayed.body().get("features").get("order_count").asLong()).isEqualTo(1);
            assertThat(replayed.body().get("features").get("orders_1h").asLong()).isEqualTo(1);
            assertThat(deadLetters(pipeline, config)).isEmpty();
        }
    }

    /** Runs {@code ./fp dead-letters <action>} against the pipeline's stream, returning what it printed. */
    private static List<String> deadLetterCommand(Config config, String action) {
        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        try {
            assertThat(Main.commandLine().execute("dead-letters", action, "--redis-url=" + config.get(Config.REDIS_URL),
                    "--stream=" + config.get(Config.STREAM), "--stream-shards=" + config.get(Config.STREAM_SHARDS),
                    "--registry=" + config.path(Config.REGISTRY))).isZero();
        } finally {
            System.setOut(stdout);
        }
        return printed.toString(StandardCharsets.UTF_8).lines().toList();
    }

    @Test
    void aKeyOfAnotherTypeStopsTheOnlineConsumerWithoutADeadLetterAndReadyzSaysWhy() {
        Config config = TestServices.config(REGISTRY, Map.of());
        String user = "wrong-type-" + UUID.randomUUID();
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST, Role.ONLINE, Role.SERVE), Clock.systemUTC())) {
            RedisClusterCommands<String, String> redis = pipeline.redis().shared().sync();
            redis.set(StreamKeys.state(pipeline.stores().shards().prefixOf(user), "user", user), "not a hash");
            Api api = new Api(pipeline.httpPort());
            await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/readyz").status() == 200);
            assertThat(api.postJson("/v1/events", List.of(order("e1", user))).status()).isEqualTo(202);

            await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/readyz").status() == 503);
            Api.Reply ready = api.get("/readyz");
            assertThat(ready.body().get("stores").get("redis").asBoolean()).isTrue();
            assertThat(ready.body().get("stopped").get(OnlineConsumer.GROUP).asText()).contains("WRONGTYPE");
            assertThat(deadLetters(pipeline, config)).isEmpty();
            assertThat(StreamGroups.status(redis, pipeline.stores().shards()).stream()
                    .filter(g -> g.name().equals(OnlineConsumer.GROUP)).mapToLong(StreamGroups.GroupStatus::pending).sum())
                    .as("left pending for a restart").isEqualTo(1);
            assertThat(api.getText("/metrics")).contains("featurepipe_consumer_fatal_total{group=\"online\"} 1.0");
        }
    }

    @Test
    void aTableThatCannotBeWrittenForAWhileLosesNoEventAndDeadLettersNone() throws Exception {
        Config config = TestServices.config(REGISTRY, Map.of());
        String user = "detached-" + UUID.randomUUID();
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST, Role.OFFLINE), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            ClickHouseClient clickhouse = new ClickHouseClient(config.get(Config.CLICKHOUSE_URL), config.get(Config.CLICKHOUSE_DATABASE));
            List<Map<String, Object>> before = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                before.add(order("b" + i, user));
            }
            assertThat(api.postJson("/v1/events", before).status()).isEqualTo(202);
            await().atMost(Duration.ofSeconds(30)).until(() -> caughtUp(pipeline, config, OfflineSink.GROUP));

            clickhouse.execute("DETACH TABLE events"); // every INSERT now fails: the table is unknown
            List<Map<String, Object>> during = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                during.add(order("d" + i, user));
            }
            assertThat(api.postJson("/v1/events", during).status()).isEqualTo(202);
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    api.getText("/metrics").contains("featurepipe_consumer_failures_total{group=\"offline\",outcome=\"retriable\"}"));
            Thread.sleep(1000); // a few more retries while the table is away
            clickhouse.execute("ATTACH TABLE events");

            await().atMost(Duration.ofSeconds(60)).until(() -> caughtUp(pipeline, config, OfflineSink.GROUP));
            long rows = Long.parseLong(clickhouse.execute("SELECT count() FROM events FINAL WHERE entity_id = '" + user
                    + "' FORMAT TabSeparated").trim());
            assertThat(rows).isEqualTo(100);
            assertThat(deadLetters(pipeline, config)).isEmpty();
        }
    }
}
