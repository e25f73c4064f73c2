package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import dev.featurepipe.online.OnlineConsumer;
import dev.featurepipe.redis.StreamGroups;
import dev.featurepipe.services.LocalServices;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * MongoDB is stopped for 8 s while events flow and the online consumer applies batches to Redis ahead of their
 * profile updates (small batches, so that several are in flight): afterwards every profile is as if each event
 * had been applied once and in stream order (the last country set is the last one sent, the count is the events
 * sent), also for users whose events all came while MongoDB was down, and the Redis features agree.
 */
@ExtendWith(TestServices.class)
@Timeout(300)
class MongoOutageIT {
    @Test
    void profilesAreAppliedOnceAndInStreamOrderAcrossAnOutage() throws Exception {
        Config config = TestServices.config("src/test/resources/registry/it.yaml",
                Map.of(Config.ONLINE_BATCH, "20", Config.ONLINE_AHEAD, "4"));
        String run = UUID.randomUUID().toString().substring(0, 8);
        // users with events before and after the outage, and users with events only while MongoDB is down: their
        // profiles come from batches that failed and were handled again
        List<String> steady = IntStream.range(0, 5).mapToObj(i -> "mongo-outage-" + run + "-" + i).toList();
        List<String> during = IntStream.range(0, 5).mapToObj(i -> "mongo-outage-" + run + "-down-" + i).toList();
        AtomicReference<List<String>> sendingTo = new AtomicReference<>(steady);
        Map<String, List<String>> countries = new ConcurrentHashMap<>(); // sent to each user, in stream order
        AtomicInteger refused = new AtomicInteger();
        AtomicBoolean sending = new AtomicBoolean(true);
        LocalServices services = TestServices.local();
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST, Role.ONLINE, Role.SERVE), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            Thread sender = new Thread(() -> {
                ObjectMapper json = new ObjectMapper();
                long firstTs = System.currentTimeMillis() - Duration.ofHours(1).toMillis(); // one ms apart, in sending order
                for (int request = 0; sending.get(); request++) {
                    ArrayNode batch = json.createArrayNode();
                    List<String[]> sent = new ArrayList<>();
                    List<String> users = sendingTo.get();
                    for (int k = 0; k < 10; k++) {
                        String user = users.get(k % users.size());
                        String country = "c" + (request * 10 + k);
                        batch.addObject().put("event_id", run + "-" + request + "-" + k).put("event_type", "order")
                                .put("user_id", user).put("ts", firstTs + request * 10L + k).put("amount", 1.0).put("sku", "a")
                                .put("country", country);
                        sent.add(new String[] {user, country});
                    }
                    if (api.post("/v1/events", "application/json", batch.toString()).status() == 202) {
                        sent.forEach(s -> countries.computeIfAbsent(s[0], u -> new CopyOnWriteArrayList<>()).add(s[1]));
                    } else {
                        refused.incrementAndGet();
                    }
                    Sleep.millis(20);
                }
            }, "steady-sender");
            sender.start();
            Thread.sleep(3_000);
            services.down(List.of("mongo"));
            sendingTo.set(during);
            Thread.sleep(8_000);
            sendingTo.set(steady);
            services.up();
            Thread.sleep(3_000);
            sending.set(false);
            sender.join();

            await().atMost(Duration.ofMinutes(2)).until(() -> StreamGroups.status(pipeline.redis().shared().sync(),
                    pipeline.stores().shards())
                    .stream().filter(g -> g.name().equals(OnlineConsumer.GROUP)).allMatch(StreamGroups.GroupStatus::caughtUp));

            assertThat(refused.get()).isZero();
            assertThat(api.getText("/metrics")).as("the online consumer failed while MongoDB was down")
                    .containsPattern("featurepipe_consumer_failures_total\\{group=\"online\"[^}]*} [1-9]");
            for (String user : Stream.concat(steady.stream(), during.stream()).toList()) {
                List<String> sent = countries.get(user);
                JsonNode v = api.get("/v1/features/user/" + user + "?features=country,first_country,order_count,orders_24h").body();
                assertThat(v.at("/status").toString()).doesNotContain("timeout", "unavailable");
                assertThat(sent).hasSizeGreaterThan(100);
                assertThat(v.at("/features/country").asText()).as("the last country sent").isEqualTo(sent.get(sent.size() - 1));
                assertThat(v.at("/features/first_country").asText()).isEqualTo(sent.get(0));
                assertThat(v.at("/features/order_count").asLong()).as("profile count").isEqualTo(sent.size());
                assertThat(v.at("/features/orders_24h").asLong()).as("online count").isEqualTo(sent.size());
            }
        } finally {
            sending.set(false);
            services.up();
        }
    }
}
