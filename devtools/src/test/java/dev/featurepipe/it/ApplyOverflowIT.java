package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import dev.featurepipe.online.OnlineConsumer;
import dev.featurepipe.redis.StreamGroups;
import dev.featurepipe.redis.StreamKeys;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * One apply call of 100 events, one of which makes a sum overflow: two finite amounts near 1e308 of one customer
 * folded together. With the number rule's bound lifted (FP_MAX_ABS_NUMBER at the largest double), the call's own
 * checks are what stands between the overflow and a half-written call: exactly the event that cannot be applied
 * is dead-lettered, and the other 99 are applied, online and in the profiles, with exact values.
 */
@ExtendWith(TestServices.class)
@Timeout(120)
class ApplyOverflowIT {
    private static final String REGISTRY = "src/test/resources/registry/rules.yaml";

    /** What the test expects of one customer, from the events it applies. */
    private static final class Expected {
        long purchases;
        double spend;
        double topUnitPrice = Double.NEGATIVE_INFINITY;
    }

    private static Map<String, Object> purchase(String id, String customer, double amount, long quantity) {
        return Map.of("event_id", id, "event_type", "purchase", "customer_id", customer, "amount", amount,
                "quantity", quantity);
    }

    @Test
    void theOneEventOfAChunkWhoseSumWouldOverflowIsDeadLetteredAloneAndTheOther99AreAppliedExactly() {
        Config config = TestServices.config(REGISTRY, Map.of(Config.MAX_ABS_NUMBER, Double.toString(Double.MAX_VALUE)));
        String run = UUID.randomUUID().toString().substring(0, 8);
        String big = "big-" + run;
        Random random = new Random(14);
        List<Map<String, Object>> events = new ArrayList<>();
        for (int i = 0; i < 98; i++) {
            // quarters and small whole numbers: every sum of them is exact in a double, whatever the order
            events.add(purchase("p" + i, "c" + random.nextInt(10) + "-" + run, random.nextInt(4000) / 4.0, 1 + random.nextInt(4)));
        }
        events.add(30, purchase("big-1", big, 1e308, 1));
        events.add(70, purchase("big-2", big, 1e308, 1)); // with big-1, a sum that is not finite
        Map<String, Expected> expected = new LinkedHashMap<>();
        for (Map<String, Object> e : events) {
            if (!e.get("event_id").equals("big-2")) {
                Expected x = expected.computeIfAbsent((String) e.get("customer_id"), c -> new Expected());
                x.purchases++;
                x.spend += (double) e.get("amount");
                x.topUnitPrice = Math.max(x.topUnitPrice, (double) e.get("amount") / (long) e.get("quantity"));
            }
        }

        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST, Role.ONLINE, Role.SERVE), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            assertThat(api.postJson("/v1/events", events).status()).isEqualTo(202);
            await().atMost(Duration.ofSeconds(60)).until(() -> StreamGroups.status(pipeline.redis().shared().sync(),
                    pipeline.stores().shards()).stream().filter(g -> g.name().equals(OnlineConsumer.GROUP))
                    .allMatch(StreamGroups.GroupStatus::caughtUp));

            List<StreamMessage<String, String>> dead = TestServices.deadLetters(pipeline);
            assertThat(dead).singleElement().satisfies(m -> {
                assertThat(m.getBody().get("e")).contains("\"big-2\"").doesNotContain("\"big-1\"");
                assertThat(m.getBody().get("reason")).contains("finite");
            });
            Map<String, String> mismatches = new HashMap<>();
            expected.forEach((customer, x) -> {
                JsonNode f = api.get("/v1/features/customer/" + customer).body().get("features");
                Map<String, Object> got = Map.of("purchases", f.get("purchases").asLong(), "spend", f.get("spend").asDouble(),
                        "top_unit_price", f.get("top_unit_price").asDouble(), "purchase_count", f.get("purchase_count").asLong(),
                        "total_spend", f.get("total_spend").asDouble());
                Map<String, Object> want = Map.of("purchases", x.purchases, "spend", x.spend, "top_unit_price", x.topUnitPrice,
                        "purchase_count", x.purchases, "total_spend", x.spend);
                if (!got.equals(want)) {
                    mismatches.put(customer, "served " + got + ", expected " + want);
                }
            });
            assertThat(expected.values().stream().mapToLong(x -> x.purchases).sum()).isEqualTo(99);
            assertThat(mismatches).isEmpty();
        }
    }
}
