package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import dev.featurepipe.redis.RedisConnections;
import dev.featurepipe.services.LocalServices;
import dev.featurepipe.services.ServiceAddresses;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What a 202 promises about Redis: the local Redis writes its AOF before it answers, so a Redis process killed
 * right after the answers loses none of the accepted events; and FP_LOCAL_REDIS_FSYNC=always makes it fsync before
 * every answer. Servers of its own (Redis is killed), on ports of the test run.
 */
@Timeout(180)
class RedisDurabilityIT {
    private static final int PORT = 15_110 + Integer.getInteger("fp.it.portOffset", 0);
    private static final URI REDIS = URI.create("redis://127.0.0.1:" + PORT);

    private LocalServices services;

    @AfterEach
    void stop() {
        if (services != null) {
            services.down();
        }
    }

    private LocalServices redisOnly(String fsync, String dir) {
        // LocalServices manages the three servers together: ClickHouse and MongoDB start too, on the next ports
        ServiceAddresses addresses = new ServiceAddresses(REDIS, URI.create("http://127.0.0.1:" + (PORT + 1)), PORT + 2,
                "mongodb://127.0.0.1:" + (PORT + 3));
        return new LocalServices(addresses, fsync, Path.of("target", dir).toAbsolutePath(), new PrintStream(System.out, true));
    }

    @Test
    void theLocalRedisFsyncsAsTheSettingSays() {
        for (String fsync : List.of("always", Config.LOCAL_REDIS_FSYNC.defaultValue())) {
            services = redisOnly(fsync, "it-redis-durability-" + fsync);
            services.down(); // a leftover of an aborted run, if any
            startRedis();
            try (RedisConnections redis = new RedisConnections(REDIS)) {
                assertThat(redis.shared().sync().configGet("appendonly")).containsEntry("appendonly", "yes");
                assertThat(redis.shared().sync().configGet("appendfsync")).containsEntry("appendfsync", fsync);
            }
            services.down();
        }
    }

    @Test
    void aRedisKilledRightAfterTheAnswersKeepsEveryAcceptedEvent() throws Exception {
        services = redisOnly(Config.LOCAL_REDIS_FSYNC.defaultValue(), "it-redis-durability-kill");
        services.down();
        startRedis();
        Config config = TestServices.config("src/test/resources/registry/it.yaml", Map.of(Config.REDIS_URL, REDIS.toString()));
        Set<String> accepted = new HashSet<>();
        ObjectMapper json = new ObjectMapper();
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            for (int request = 0; request < 200; request++) {
                ArrayNode batch = json.createArrayNode();
                for (int k = 0; k < 25; k++) {
                    batch.addObject().put("event_id", "d-" + request + "-" + k).put("event_type", "order")
                            .put("user_id", "u" + k).put("amount", 1.5).put("sku", "a");
                }
                assertThat(api.post("/v1/events", "application/json", batch.toString()).status()).isEqualTo(202);
                batch.forEach(e -> accepted.add(e.path("event_id").asText()));
            }
            assertThat(services.kill("redis")).as("killed").isTrue(); // SIGKILL: no shutdown, no last fsync
        }
        startRedis();
        Set<String> inStream = new HashSet<>();
        try (RedisConnections redis = new RedisConnections(REDIS)) {
            for (StreamMessage<String, String> m : TestServices.shards(config.get(Config.STREAM)).streams().stream()
                    .flatMap(s -> redis.shared().sync().xrange(s, Range.create("-", "+")).stream()).toList()) {
                for (String line : m.getBody().get("e").split("\n")) {
                    inStream.add(json.readTree(line).path("id").asText());
                }
            }
        }
        assertThat(accepted).hasSize(5_000);
        assertThat(inStream).isEqualTo(accepted);
    }

    private void startRedis() {
        assertThat(services.up()).contains("redis");
    }
}
