package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.featurepipe.redis.RedisConnections;
import dev.featurepipe.redis.StreamKeys;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Pipeline processes whose store URIs hold passwords (a Redis that asks for one, a MongoDB and a ClickHouse that do
 * not answer, a URI that is not valid), fed poison entries and events with recognizable strings: neither the
 * passwords nor those strings are in what the processes print or in their metrics.
 */
@ExtendWith(TestServices.class)
@Timeout(180)
class SecretsIT {
    private static final String REGISTRY = Path.of("src/test/resources/registry/it.yaml").toAbsolutePath().toString();
    private static final String REDIS_PASSWORD = "redis-pw-Q7x2";
    private static final String MONGO_PASSWORD = "mongo-pw-K9v4";
    private static final String CLICKHOUSE_PASSWORD = "clickhouse-pw-Z3m8";
    private static final List<String> SECRETS = List.of(REDIS_PASSWORD, MONGO_PASSWORD, CLICKHOUSE_PASSWORD);
    private static final List<String> PAYLOADS = List.of("payload-mark-A1", "payload-mark-B2", "payload-mark-C3",
            "payload-mark-D4");
    private static final int REDIS_PORT = 16379 + TestServices.OFFSET + 101;
    /** Nothing listens there. */
    private static final int CLOSED_PORT = 16379 + TestServices.OFFSET + 102;
    private static final Pattern HTTP_PORT = Pattern.compile("HTTP API on http://127\\.0\\.0\\.1:(\\d+)");

    @Test
    void noPasswordOrPayloadIsPrintedOrInTheMetrics() throws Exception {
        String stream = "it_" + UUID.randomUUID().toString().substring(0, 8) + ":events";
        String redisUrl = "redis://:" + REDIS_PASSWORD + "@127.0.0.1:" + REDIS_PORT;
        String unreachableMongo = "mongodb://fp:" + MONGO_PASSWORD + "@127.0.0.1:" + CLOSED_PORT + "/?serverSelectionTimeoutMS=300";
        List<String> seen = new ArrayList<>();
        try (ExtraRedis redis = ExtraRedis.start(REDIS_PORT, List.of("--requirepass", REDIS_PASSWORD));
             RedisConnections connections = new RedisConnections(URI.create(redisUrl));
             FpProcess pipeline = FpProcess.start("secrets-pipeline", Map.of("FP_REDIS_URL", redisUrl,
                     "FP_MONGO_URI", unreachableMongo, "FP_REGISTRY", REGISTRY, "FP_STREAM", stream, "FP_HTTP_PORT", "0"),
                     "run", "--roles", "ingest,online,serve")) {
            await().atMost(Duration.ofSeconds(60)).until(() -> HTTP_PORT.matcher(pipeline.output()).find());
            Matcher port = HTTP_PORT.matcher(pipeline.output());
            assertThat(port.find()).isTrue();
            Api api = new Api(Integer.parseInt(port.group(1)));
            // entries that are no events, and an event whose profile update fails while MongoDB does not answer
            connections.shared().sync().xadd(stream, Map.of("e", "not json " + PAYLOADS.get(0) + "\n[\""
                    + PAYLOADS.get(1) + "\"]\n{\"sku\": \"" + PAYLOADS.get(2) + "\"}"));
            Api.Reply accepted = api.post("/v1/events", "application/json", "{\"event_id\": \"s1\", \"event_type\": \"order\","
                    + " \"user_id\": \"u1\", \"amount\": 1.5, \"sku\": \"" + PAYLOADS.get(3) + "\", \"country\": \"FR\"}");
            assertThat(accepted.status()).isEqualTo(202);
            await().atMost(Duration.ofSeconds(60)).until(() ->
                    connections.shared().sync().xlen(StreamKeys.deadLetters(stream)) == 3);
            assertThat(api.get("/v1/features/user/u1?features=orders_1h,country").status()).isEqualTo(200);
            assertThat(api.get("/readyz").status()).as("MongoDB does not answer").isEqualTo(503);
            Thread.sleep(1000); // a retry of the profile update or two is logged
            seen.add(api.getText("/metrics"));
            seen.add(pipeline.output());
        }
        try (FpProcess offline = FpProcess.start("secrets-offline", Map.of("FP_REDIS_URL", TestServices.REDIS.toString(),
                "FP_CLICKHOUSE_URL", "http://127.0.0.1:" + CLOSED_PORT, "FP_CLICKHOUSE_USER", "fp",
                "FP_CLICKHOUSE_PASSWORD", CLICKHOUSE_PASSWORD, "FP_REGISTRY", REGISTRY, "FP_STREAM", stream),
                "run", "--roles", "offline");
             FpProcess badUri = FpProcess.start("secrets-bad-uri", Map.of("FP_REDIS_URL", "redis://:" + REDIS_PASSWORD + "@127.0.0.1",
                     "FP_MONGO_URI", "mongodb://fp:" + MONGO_PASSWORD + "@127.0.0.1:not-a-port", "FP_REGISTRY", REGISTRY,
                     "FP_CLICKHOUSE_URL", "http://fp:" + CLICKHOUSE_PASSWORD + "@127.0.0.1:" + CLOSED_PORT),
                     "run", "--roles", "online");
             FpProcess badMongo = FpProcess.start("secrets-bad-mongo", Map.of("FP_REDIS_URL", TestServices.REDIS.toString(),
                     "FP_MONGO_URI", "mongodb://fp:" + MONGO_PASSWORD + "@127.0.0.1:not-a-port", "FP_REGISTRY", REGISTRY,
                     "FP_STREAM", stream), "run", "--roles", "online")) {
            for (FpProcess failing : List.of(offline, badUri, badMongo)) {
                assertThat(failing.waitFor(60)).as("a process that cannot start ends with an error").isNotNull().isNotZero();
                seen.add(failing.output());
            }
            assertThat(offline.output()).contains("ClickHouse at http://127.0.0.1:" + CLOSED_PORT);
            assertThat(badUri.output()).contains("FP_CLICKHOUSE_URL (--clickhouse-url) = 'http://fp:***@127.0.0.1:");
        }
        for (String text : seen) {
            for (String secret : SECRETS) {
                assertThat(text).as("a password").doesNotContain(secret);
            }
            for (String payload : PAYLOADS) {
                assertThat(text).as("an event's payload").doesNotContain(payload);
            }
        }
    }
}
