package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.mongodb.MongoSocketReadTimeoutException;
import com.mongodb.client.MongoDatabase;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.config.Config;
import dev.featurepipe.mongo.MongoConnection;
import dev.featurepipe.redis.RedisConnections;
import io.lettuce.core.RedisCommandTimeoutException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bson.Document;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A serving process whose Redis and MongoDB are reached through relays this test can stall: a stalled store costs
 * its own features (status {@code timeout}) within the request's deadline, never the whole answer and never time.
 */
@ExtendWith(TestServices.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class ServeDeadlineIT {
    /** Above the 300 ms deadline, far below the clients' own timeouts (Redis 10 s, MongoDB 2 s and 10 s). */
    private static final long ANSWER_WITHIN_MS = 1_000;

    private PausableProxy redisRelay;
    private PausableProxy mongoRelay;
    private Config writerConfig;
    private Pipeline writer;
    private Pipeline server;
    private Api api;

    @BeforeAll
    void start() {
        // the server reads the one Redis through a relay it can pause, so the writer writes there too
        writerConfig = TestServices.config("src/test/resources/registry/it.yaml",
                Map.of(Config.REDIS_URL, TestServices.REDIS.toString()));
        writer = Pipeline.start(writerConfig, EnumSet.of(Role.INGEST, Role.ONLINE), Clock.systemUTC());
        redisRelay = new PausableProxy(TestServices.REDIS.getPort());
        mongoRelay = new PausableProxy(TestServices.MONGO_PORT);
        // budgets roomy enough for a busy test machine, yet far below the stores' own timeouts
        Config serverConfig = writerConfig.with(Map.of(
                Config.REDIS_URL, "redis://127.0.0.1:" + redisRelay.port(),
                Config.MONGO_URI, "mongodb://127.0.0.1:" + mongoRelay.port(),
                Config.SERVE_ONLINE_BUDGET, "200ms", Config.SERVE_PROFILE_BUDGET, "200ms", Config.SERVE_DEADLINE, "300ms"));
        server = Pipeline.start(serverConfig, EnumSet.of(Role.SERVE), Clock.systemUTC());
        api = new Api(server.httpPort());
        Api ingest = new Api(writer.httpPort());
        long now = System.currentTimeMillis();
        assertThat(ingest.postJson("/v1/events", List.of(
                Map.of("event_id", "d1", "event_type", "order", "user_id", "u1", "ts", now - 1_000, "amount", 5.0,
                        "sku", "A", "country", "FR"),
                Map.of("event_id", "d2", "event_type", "order", "user_id", "u1", "ts", now, "amount", 7.0,
                        "sku", "B", "country", "DE"))).status()).isEqualTo(202);
        await().atMost(Duration.ofSeconds(30)).until(() ->
                "ok".equals(get().at("/status/country").asText()) && get().at("/features/orders_1h").asLong() == 2);
    }

    @AfterAll
    void stop() throws Exception {
        server.close();
        writer.close();
        redisRelay.close();
        mongoRelay.close();
        new ClickHouseClient(TestServices.CLICKHOUSE, null)
                .execute("DROP DATABASE IF EXISTS " + writerConfig.get(Config.CLICKHOUSE_DATABASE));
    }

    private JsonNode get() {
        return api.get("/v1/features/user/u1?features=orders_1h,spend_1h,last_skus,country,order_count").body();
    }

    /** {@link #get()} while {@code relay} holds back every byte of {@code store}; answered by the deadline. */
    private JsonNode getWhileStalled(PausableProxy relay, String store) {
        relay.pause(true);
        try {
            long t0 = System.nanoTime();
            JsonNode answer = get();
            assertThat((System.nanoTime() - t0) / 1_000_000).as("answered by the deadline, not by " + store + "'s timeouts")
                    .isLessThan(ANSWER_WITHIN_MS);
            return answer;
        } finally {
            relay.pause(false);
        }
    }

    @Test
    void aStalledProfileStoreCostsOnlyTheProfileFields() {
        double before = failures("profile", "timeout");
        JsonNode answer = getWhileStalled(mongoRelay, "MongoDB");

        assertThat(answer.at("/status/country").asText()).isEqualTo("timeout");
        assertThat(answer.at("/status/order_count").asText()).isEqualTo("timeout");
        assertThat(answer.at("/features/country").isNull()).isTrue();
        assertThat(answer.at("/status/orders_1h").asText()).isEqualTo("ok");
        assertThat(answer.at("/features/orders_1h").asLong()).isEqualTo(2);
        assertThat(answer.at("/features/spend_1h").asDouble()).isEqualTo(12.0);
        assertThat(failures("profile", "timeout")).isEqualTo(before + 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> "DE".equals(get().at("/features/country").asText()));
    }

    @Test
    void readinessAnswersWhileRedisStallsAndNamesIt() {
        redisRelay.pause(true);
        try {
            long t0 = System.nanoTime();
            Api.Reply ready = api.get("/readyz");
            long tookMs = (System.nanoTime() - t0) / 1_000_000;

            assertThat(ready.status()).isEqualTo(503);
            assertThat(ready.body().at("/stores/redis").asBoolean()).isFalse();
            assertThat(ready.body().at("/stores/mongodb").asBoolean()).isTrue();
            assertThat(tookMs).as("answered within its bound, not after Redis's 10 s command timeout").isLessThan(8_000);
            assertThat(api.getText("/metrics")).contains("featurepipe_readiness_timeouts_total{store=\"redis\"}");
        } finally {
            redisRelay.pause(false);
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/readyz").status() == 200);
    }

    @Test
    void aStalledRedisCostsOnlyTheOnlineFeatures() {
        double before = failures("online", "timeout");
        JsonNode answer = getWhileStalled(redisRelay, "Redis");

        for (String f : List.of("orders_1h", "spend_1h", "last_skus")) {
            assertThat(answer.at("/status/" + f).asText()).as(f).isEqualTo("timeout");
            assertThat(answer.at("/features/" + f).isNull()).as(f).isTrue();
        }
        assertThat(answer.at("/status/country").asText()).isEqualTo("ok");
        assertThat(answer.at("/features/country").asText()).isEqualTo("DE");
        assertThat(answer.at("/features/order_count").asLong()).isEqualTo(2);
        assertThat(failures("online", "timeout")).isEqualTo(before + 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> "[\"B\",\"A\"]".equals(get().at("/features/last_skus").toString()));
    }

    @Test
    void theUrlsBoundEachCommandOnAStalledStore() {
        try (RedisConnections redis = new RedisConnections(URI.create("redis://127.0.0.1:" + redisRelay.port() + "?timeout=300ms"));
             MongoConnection mongo = MongoConnection.open("mongodb://127.0.0.1:" + mongoRelay.port() + "/?socketTimeoutMS=300", "admin")) {
            MongoDatabase admin = mongo.database();
            assertThat(redis.shared().sync().ping()).isEqualTo("PONG");
            assertThat(admin.runCommand(new Document("ping", 1)).get("ok")).isNotNull();
            redisRelay.pause(true);
            mongoRelay.pause(true);

            long t0 = System.nanoTime();
            assertThatThrownBy(() -> redis.shared().sync().ping()).isInstanceOf(RedisCommandTimeoutException.class);
            assertThat((System.nanoTime() - t0) / 1_000_000).as("Redis, ?timeout=300ms").isLessThan(ANSWER_WITHIN_MS);
            long t1 = System.nanoTime();
            assertThatThrownBy(() -> admin.runCommand(new Document("ping", 1))).isInstanceOf(MongoSocketReadTimeoutException.class);
            assertThat((System.nanoTime() - t1) / 1_000_000).as("MongoDB, socketTimeoutMS=300").isLessThan(ANSWER_WITHIN_MS);
        } finally {
            redisRelay.pause(false);
            mongoRelay.pause(false);
        }
    }

    /** The count of {@code featurepipe_serve_source_failures_total} for a source and reason, from /metrics. */
    private double failures(String source, String reason) {
        String text = api.getText("/metrics");
        Matcher m = Pattern.compile("featurepipe_serve_source_failures_total\\{([^}]*)} (\\S+)").matcher(text);
        while (m.find()) {
            if (m.group(1).contains("source=\"" + source + "\"") && m.group(1).contains("reason=\"" + reason + "\"")) {
                return Double.parseDouble(m.group(2));
            }
        }
        return 0;
    }
}
