package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.clickhouse.FeatureSql;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.redis.RedisEventLog;
import dev.featurepipe.redis.StreamKeys;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The rules every store shares, through the whole pipeline on the real servers: one idempotency key, (event type,
 * entity, event_id), and one rule for numbers (finite, within FP_MAX_ABS_NUMBER), so that online features, the
 * ClickHouse table and the profiles always hold the same events.
 */
@ExtendWith(TestServices.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class StoreRulesIT {
    private final ObjectMapper json = new ObjectMapper();
    private Config config;
    private Pipeline pipeline;
    private Api api;

    @BeforeAll
    void start() {
        config = TestServices.config("src/test/resources/registry/rules.yaml", Map.of());
        pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST, Role.ONLINE, Role.OFFLINE, Role.SERVE), Clock.systemUTC());
        api = new Api(pipeline.httpPort());
    }

    @AfterAll
    void stop() {
        pipeline.close();
        new ClickHouseClient(TestServices.CLICKHOUSE, null).execute("DROP DATABASE IF EXISTS " + config.get(Config.CLICKHOUSE_DATABASE));
    }

    private static Map<String, Object> purchase(String id, String customer, double amount, long quantity) {
        return Map.of("event_id", id, "event_type", "purchase", "customer_id", customer, "amount", amount, "quantity", quantity);
    }

    private static Map<String, Object> refund(String id, String customer, double amount) {
        return Map.of("event_id", id, "event_type", "refund", "customer_id", customer, "amount", amount);
    }

    @Test
    void aRefundReusingItsPurchasesIdIsCountedAndTheSameTripleSentTwiceOnceInEveryStore() {
        String run = UUID.randomUUID().toString().substring(0, 8);
        String alice = "alice:{" + run + "}";
        String bob = "bob-" + run;
        String id = "order:{7}:1"; // ids may hold the separators of keys
        List<Map<String, Object>> events = List.of(purchase(id, alice, 20.0, 2), refund(id, alice, 5.0),
                purchase(id, bob, 30.0, 3));

        Api.Reply first = api.postJson("/v1/events", events);
        Api.Reply again = api.postJson("/v1/events", events);
        TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));
        // past ingest's marks: every entry of these events appended once more, as a redelivery or a replay would
        RedisEventLog unguarded = new RedisEventLog(pipeline.redis(), pipeline.stores().codec(), pipeline.stores().shards(),
                Duration.ZERO, Long.MAX_VALUE, 100);
        for (StreamMessage<String, String> m : TestServices.entries(pipeline)) {
            if (m.getBody().get("e").contains(run)) {
                unguarded.append(m.getBody().get("e").lines().map(pipeline.stores().codec()::decode).toList());
            }
        }
        TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));

        assertThat(first.body().get("duplicates").asInt()).isZero();
        assertThat(again.body().get("duplicates").asInt()).isEqualTo(events.size());
        JsonNode a = features(alice);
        assertThat(List.of(a.get("purchases").asLong(), a.get("refunds").asLong(), a.get("purchase_count").asLong(),
                a.get("refund_count").asLong())).containsExactly(1L, 1L, 1L, 1L);
        assertThat(List.of(a.get("spend").asDouble(), a.get("refunded").asDouble(), a.get("total_spend").asDouble()))
                .containsExactly(20.0, 5.0, 20.0);
        JsonNode b = features(bob);
        assertThat(List.of(b.get("purchases").asLong(), b.get("refunds").asLong(), b.get("purchase_count").asLong()))
                .containsExactly(1L, 0L, 1L);
        assertThat(pipeline.offlineTable().query("SELECT event_type, entity_id, event_id FROM events FINAL WHERE entity_id IN ('"
                + alice + "', '" + bob + "') ORDER BY entity_id, event_type FORMAT TabSeparated").lines().toList())
                .containsExactly("purchase\t" + alice + "\t" + id, "refund\t" + alice + "\t" + id, "purchase\t" + bob + "\t" + id);
    }

    @Test
    void ingestRefusesAnEventWithANumberThatIsNotFiniteOrBeyondTheBoundNamingTheFieldAndWritesNothing() {
        String customer = "c-" + UUID.randomUUID();
        long length = streamLength();
        String body = "[" + String.join(",", List.of(
                "{\"event_id\": \"ok\", \"event_type\": \"purchase\", \"customer_id\": \"" + customer + "\", \"amount\": 12.5, \"quantity\": 2}",
                "{\"event_id\": \"zero\", \"event_type\": \"purchase\", \"customer_id\": \"" + customer + "\", \"amount\": 12.5, \"quantity\": 0}",
                "{\"event_id\": \"huge\", \"event_type\": \"refund\", \"customer_id\": \"" + customer + "\", \"amount\": 1e400}",
                "{\"event_id\": \"big\", \"event_type\": \"refund\", \"customer_id\": \"" + customer + "\", \"amount\": -2e19}")) + "]";

        Api.Reply reply = api.post("/v1/events", "application/json", body);

        assertThat(reply.status()).isEqualTo(400);
        assertThat(reply.body().get("error").asText()).isEqualTo("3 of 4 events are invalid; nothing was written");
        assertThat(reply.body().get("details")).extracting(d -> d.get("index").asInt() + " " + d.get("field").asText() + ": "
                + d.get("reason").asText()).containsExactly(
                "1 amount: what feature 'top_unit_price' computes from it is not a finite number as a double (Infinity)",
                "2 amount: is not a finite number as a double (Infinity)",
                "3 amount: is -2.0E19, beyond the largest magnitude allowed, 1.0E19 (FP_MAX_ABS_NUMBER)");
        assertThat(streamLength()).isEqualTo(length);
        assertThat(api.getText("/metrics")).contains("featurepipe_ingest_invalid_fields_total{field=\"amount\"} 3.0");
    }

    /**
     * Events that reached the stream past ingest's rule (a registry changed since, another writer) are checked again
     * by each consumer: the one that breaks it is dead-lettered by both groups and written to no store, and what the
     * stores hold of the others is the same as a reference computed here.
     */
    @Test
    void anEventBreakingTheNumberRuleInTheStreamIsInNoStoreAndOnlineOfflineAndProfilesAgreeWithTheReference() throws Exception {
        String customer = "c-" + UUID.randomUUID();
        long now = System.currentTimeMillis();
        List<Event> good = new ArrayList<>();
        double[] amounts = {12.5, 7.25, 100.0, 0.75};
        long[] quantities = {2, 1, 8, 3};
        for (int i = 0; i < amounts.length; i++) {
            good.add(new Event("p" + i, "purchase", customer, now - i, Map.of("amount", amounts[i], "quantity", quantities[i])));
        }
        good.add(new Event("r0", "refund", customer, now, Map.of("amount", 4.5)));
        Event zero = new Event("zero", "purchase", customer, now, Map.of("amount", 9.0, "quantity", 0L));
        List<Event> sent = new ArrayList<>(good);
        sent.add(2, zero);
        new RedisEventLog(pipeline.redis(), pipeline.stores().codec(), pipeline.stores().shards(), Duration.ZERO,
                Long.MAX_VALUE, 100).append(sent);
        TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));

        List<StreamMessage<String, String>> dead = TestServices.deadLetters(pipeline).stream()
                .filter(m -> m.getBody().get("e").contains(customer)).toList();
        assertThat(dead).extracting(m -> m.getBody().get("group")).containsExactlyInAnyOrder("online", "offline");
        assertThat(dead).allSatisfy(m -> {
            assertThat(m.getBody().get("e")).contains("\"zero\"").doesNotContain("\"p0\"");
            assertThat(m.getBody().get("reason")).contains("top_unit_price").contains("Infinity");
        });

        Map<String, Object> reference = reference(good);
        JsonNode served = features(customer);
        Map<String, Object> online = new LinkedHashMap<>();
        reference.keySet().forEach(name -> online.put(name, served.get(name).asDouble()));
        assertThat(online).as("online and profiles").isEqualTo(reference);
        Map<String, Object> offline = new LinkedHashMap<>();
        long knownAt = System.currentTimeMillis(); // after the events were appended: ClickHouse knew them by then
        for (ServedFeature f : pipeline.registry().served("customer").values()) {
            if (f instanceof ServedFeature.WindowValue w) {
                String rows = pipeline.offlineTable().query(FeatureSql.valuesAt(ClickHouseEventTable.TABLE, w.feature(),
                        w.window(), Map.of(customer, knownAt)));
                offline.put(w.name(), json.readTree(rows.trim()).get("value").asDouble());
            }
        }
        Map<String, Object> offlineReference = new LinkedHashMap<>(reference);
        offlineReference.keySet().retainAll(offline.keySet());
        assertThat(offline).as("ClickHouse").isEqualTo(offlineReference).hasSize(5);
        assertThat(pipeline.offlineTable().query("SELECT count() FROM events FINAL WHERE entity_id = '" + customer
                + "' FORMAT TabSeparated").trim()).isEqualTo(Integer.toString(good.size()));
    }

    /** Every feature of rules.yaml, as a double, computed from the events as the registry defines it. */
    private static Map<String, Object> reference(List<Event> events) {
        List<Event> purchases = events.stream().filter(e -> e.type().equals("purchase")).toList();
        List<Event> refunds = events.stream().filter(e -> e.type().equals("refund")).toList();
        double spend = purchases.stream().mapToDouble(e -> (double) e.field("amount")).sum();
        Map<String, Object> reference = new LinkedHashMap<>();
        reference.put("purchases", (double) purchases.size());
        reference.put("spend", spend);
        reference.put("top_unit_price", purchases.stream()
                .mapToDouble(e -> (double) e.field("amount") / (long) e.field("quantity")).max().orElseThrow());
        reference.put("refunds", (double) refunds.size());
        reference.put("refunded", refunds.stream().mapToDouble(e -> (double) e.field("amount")).sum());
        reference.put("purchase_count", (double) purchases.size());
        reference.put("refund_count", (double) refunds.size());
        reference.put("total_spend", spend);
        return reference;
    }

    private JsonNode features(String customer) {
        Api.Reply reply = api.get("/v1/features/customer/" + URLEncoder.encode(customer, StandardCharsets.UTF_8));
        assertThat(reply.status()).isEqualTo(200);
        return reply.body().get("features");
    }

    private long streamLength() {
        return TestServices.streamLength(pipeline);
    }
}
