package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.config.Config;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The whole pipeline on the real servers: events in through HTTP, both consumer groups, features out through
 * HTTP and rows in ClickHouse, checked against values this test computes itself from the events it sent.
 */
@ExtendWith(TestServices.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class PipelineIT {
    private static final long NOW = Instant.parse("2026-03-10T12:34:56.789Z").toEpochMilli();
    private static final long MINUTE = 60_000;
    private static final long HOUR = 60 * MINUTE;

    private final ObjectMapper json = new ObjectMapper();
    private final MutableClock clock = new MutableClock(NOW);
    private Config config;
    private Pipeline pipeline;
    private Api api;

    /** One sent event, as the test remembers it. */
    record Sent(String id, String user, long ts, double amount, String sku, Long units, String country) {
    }

    @BeforeAll
    void start() {
        config = TestServices.config("src/test/resources/registry/it.yaml", Map.of());
        pipeline = Pipeline.start(config, EnumSet.allOf(Role.class), clock);
        api = new Api(pipeline.httpPort());
    }

    @AfterAll
    void stop() {
        pipeline.close();
        new ClickHouseClient(TestServices.CLICKHOUSE, null).execute("DROP DATABASE IF EXISTS " + config.get(Config.CLICKHOUSE_DATABASE));
    }

    @Test
    void servedValuesEqualTheWindowSemanticsAppliedToTheSentEvents() {
        Random random = new Random(20261124);
        List<Sent> events = new ArrayList<>();
        List<String> users = users(5);
        for (String user : users) {
            for (int i = 0; i < 40; i++) {
                long ts = i > 0 && random.nextInt(7) == 0 ? events.get(events.size() - 1).ts() // ties in event time
                        : NOW - (long) (random.nextDouble() * 40 * HOUR);
                events.add(randomEvent(random, user, ts));
            }
        }
        long hourFrom = Math.floorDiv(NOW, 5 * MINUTE) * 5 * MINUTE - HOUR;
        events.add(randomEvent(random, users.get(0), hourFrom));      // on the 1h window's lower bound: inside
        events.add(randomEvent(random, users.get(0), hourFrom - 1));  // just before it: outside

        List<Sent> arrived = sendShuffled(events, random);
        TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));

        for (String user : users) {
            List<Sent> mine = arrived.stream().filter(e -> e.user().equals(user)).toList();
            JsonNode reply = features(user);
            assertWindows(reply, mine);
            assertThat(reply.at("/features/last_skus")).as("last_skus of %s", user).isEqualTo(json.valueToTree(lastSkus(mine, 3)));
            assertThat(reply.at("/features/country").asText(null)).isEqualTo(lastCountry(mine));
            assertThat(reply.at("/features/order_count").asLong()).isEqualTo(mine.size());
            assertThat(reply.at("/features/total_spend").asDouble())
                    .isCloseTo(mine.stream().mapToDouble(Sent::amount).sum(), within(1e-6));
            // a window no event reached has no online state: 'missing', with the empty value
            reply.get("status").fields().forEachRemaining(s -> assertThat(s.getValue().asText().equals("ok")
                    || reply.at("/features/" + s.getKey()).asLong(-1) == 0).as(s.getKey()).isTrue());
        }
    }

    @Test
    void reSentAndRedeliveredEventsChangeNothingOnlineOrOffline() {
        Random random = new Random(7);
        List<String> users = users(2);
        List<Sent> events = new ArrayList<>();
        users.forEach(u -> {
            for (int i = 0; i < 30; i++) {
                events.add(randomEvent(random, u, NOW - random.nextInt((int) (20 * HOUR))));
            }
        });
        sendShuffled(events, random);
        TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));
        Map<String, JsonNode> before = users.stream().collect(Collectors.toMap(u -> u, this::features));
        long rowsBefore = offlineCount(users, true);

        Api.Reply again = api.post("/v1/events", "application/json", array(events).toString());
        List<StreamMessage<String, String>> entries = TestServices.entries(pipeline);
        entries.stream().filter(m -> users.stream().anyMatch(u -> m.getBody().get("e").contains(u)))
                .forEach(m -> pipeline.redis().shared().sync().xadd(m.getStream(), m.getBody()));
        TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));

        assertThat(again.status()).isEqualTo(202);
        assertThat(again.body().get("duplicates").asInt()).isEqualTo(events.size());
        users.forEach(u -> assertThat(features(u)).isEqualTo(before.get(u)));
        assertThat(rowsBefore).isEqualTo(events.size());
        assertThat(offlineCount(users, true)).isEqualTo(events.size());
        assertThat(offlineDistinctIds(users)).isEqualTo(events.size());
    }

    @Test
    void invalidEventsAreRejectedWithFieldAndReasonAndNothingIsWritten() {
        long streamLength = streamLength();
        String user = users(1).get(0);
        ArrayNode batch = array(List.of(randomEvent(new Random(1), user, NOW - MINUTE)));
        batch.addObject().put("event_id", "bad-1").put("event_type", "order").put("user_id", user).put("amount", "12.5");

        Api.Reply all = api.post("/v1/events", "application/json", batch.toString());

        assertThat(all.status()).isEqualTo(400);
        assertThat(all.body().get("error").asText()).contains("1 of 2 events are invalid; nothing was written");
        assertThat(all.body().get("details")).anySatisfy(d -> {
            assertThat(d.get("index").asInt()).isEqualTo(1);
            assertThat(d.get("field").asText()).isEqualTo("amount");
            assertThat(d.get("reason").asText()).isEqualTo("expected double, got string \"12.5\"");
        });
        assertThat(all.body().get("details")).anySatisfy(d -> assertThat(d.get("field").asText()).isEqualTo("sku"));
        assertThat(streamLength()).isEqualTo(streamLength);

        Api.Reply partial = api.post("/v1/events?mode=partial", "application/json", batch.toString());
        assertThat(partial.status()).isEqualTo(202);
        assertThat(partial.body().get("accepted").asInt()).isEqualTo(1);
        assertThat(partial.body().get("rejected")).allSatisfy(d -> assertThat(d.get("index").asInt()).isEqualTo(1));
        assertThat(streamLength()).isEqualTo(streamLength + 1);
    }

    @Test
    void ndjsonIsAcceptedAndMalformedBodiesAreClientErrors() {
        String user = users(1).get(0);
        Random random = new Random(3);
        String ndjson = array(List.of(randomEvent(random, user, NOW), randomEvent(random, user, NOW))).toString();
        ndjson = ndjson.substring(1, ndjson.length() - 1).replace("},{", "}\n{");

        assertThat(api.post("/v1/events", "application/x-ndjson", ndjson).body().get("accepted").asInt()).isEqualTo(2);
        assertThat(api.post("/v1/events", "application/json", "{\"event_id\": ").status()).isEqualTo(400);
        Api.Reply twoValues = api.post("/v1/events", "application/json", ndjson);
        assertThat(twoValues.status()).isEqualTo(400);
        assertThat(twoValues.body().get("error").asText()).contains("application/x-ndjson");
        assertThat(api.post("/v1/events", "application/x-ndjson", "{}\nnot json").body().get("error").asText())
                .startsWith("line 2 is not JSON");
        assertThat(api.post("/v1/events", "application/json", "[]").status()).isEqualTo(400);
        assertThat(api.post("/v1/events?mode=maybe", "application/json", "{}").status()).isEqualTo(400);
        String tooMany = "[" + String.join(",", Collections.nCopies(10_001, "{}")) + "]";
        assertThat(api.post("/v1/events", "application/json", tooMany).status()).isEqualTo(413);
    }

    @Test
    void entriesThatCannotBeAppliedGoToTheDeadLetterStreamAndTheEventsAfterThemAreApplied() {
        String user = users(1).get(0);
        String stream = pipeline.stores().shards().prefixOf(user);
        var redis = pipeline.redis().shared().sync();
        redis.xadd(stream, Map.of("e", "not json"));
        redis.xadd(stream, Map.of("e", "{\"id\": \"x\", \"type\": \"refund\", \"entity_id\": \"" + user + "\", \"ts\": 1, \"fields\": {}}"));
        sendShuffled(List.of(randomEvent(new Random(5), user, NOW - MINUTE)), new Random(5));
        TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));

        List<StreamMessage<String, String>> dead = redis.xrange(stream + ":dead", Range.create("-", "+"));
        assertThat(dead).extracting(m -> m.getBody().get("reason"))
                .anySatisfy(r -> assertThat(r).startsWith("payload is not JSON"))
                .anySatisfy(r -> assertThat(r).isEqualTo("event type 'refund' is not in the registry"));
        assertThat(dead).extracting(m -> m.getBody().get("group")).contains("online", "offline");
        assertThat(features(user).at("/features/orders_10m").asLong()).isEqualTo(1);
    }

    @Test
    void unknownEntitiesIdsAndFeaturesGetClearAnswers() {
        Api.Reply entity = api.get("/v1/features/planet/1");
        Api.Reply id = api.get("/v1/features/user/nobody-" + UUID.randomUUID() + "?features=orders_1h,country");
        Api.Reply feature = api.get("/v1/features/user/1?features=orders_2h");
        Api.Reply route = api.get("/v2/nothing");

        assertThat(entity.status()).isEqualTo(404);
        assertThat(entity.body().get("error").asText()).isEqualTo("unknown entity 'planet'");
        assertThat(id.status()).isEqualTo(200);
        assertThat(id.body().get("features").get("orders_1h").asLong(-1)).isZero();
        assertThat(id.body().get("features").get("country").isNull()).isTrue();
        assertThat(id.body().get("status").get("orders_1h").asText()).isEqualTo("missing");
        assertThat(id.body().get("status").get("country").asText()).isEqualTo("missing");
        assertThat(feature.status()).isEqualTo(400);
        assertThat(feature.body().get("error").asText()).contains("orders_2h");
        assertThat(route.status()).isEqualTo(404);
        assertThat(route.body().get("error").asText()).contains("/v2/nothing");
    }

    @Test
    void manyIdsAreServedInOneRequest() {
        Random random = new Random(11);
        List<String> users = users(3);
        List<Sent> events = users.stream().map(u -> randomEvent(random, u, NOW - MINUTE)).toList();
        sendShuffled(events, random);
        TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));

        Api.Reply reply = api.postJson("/v1/features", Map.of("entity", "user", "ids", users,
                "features", List.of("orders_10m", "last_skus")));

        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.body().get("results")).hasSize(3);
        for (int i = 0; i < 3; i++) {
            JsonNode r = reply.body().get("results").get(i);
            assertThat(r.get("id").asText()).isEqualTo(users.get(i));
            assertThat(r.at("/features/orders_10m").asLong()).isEqualTo(1);
            assertThat(r.at("/features/last_skus/0").asText()).isEqualTo(events.get(i).sku());
        }
    }

    @Test
    void healthReadinessAndMetricsAnswer() {
        assertThat(api.get("/healthz").status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/readyz").status() == 200);
        Api.Reply ready = api.get("/readyz");
        assertThat(ready.body().get("warm").asBoolean()).isTrue();
        assertThat(ready.body().get("stores").get("clickhouse").asBoolean()).isTrue();
        assertThat(ready.body().get("stores").get("mongodb").asBoolean()).isTrue();
    }

    @Test
    void feastClientsGetTheRequestAndAnswerShapesOfFeastsDocumentation() {
        Random random = new Random(1001);
        List<Sent> events = new ArrayList<>();
        for (String driver : List.of("1001", "1002")) {
            for (int i = 0; i < 2 + Integer.parseInt(driver) % 1000; i++) {
                events.add(randomEvent(random, driver, NOW - (i + 1) * MINUTE));
            }
        }
        sendShuffled(events, random);
        TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));

        Api.Reply reply = api.post("/get-online-features", "application/json", """
                {"features": ["user:orders_1h", "user:spend_1h", "checkout:country"],
                 "entities": {"user_id": [1001, 1002, 1003]}}""");

        assertThat(reply.status()).isEqualTo(200);
        JsonNode body = reply.body();
        assertThat(body.fieldNames()).toIterable().containsExactly("metadata", "results");
        assertThat(body.at("/metadata/feature_names")).isEqualTo(json.valueToTree(List.of("user_id", "orders_1h", "spend_1h", "country")));
        assertThat(body.get("results")).hasSize(4).allSatisfy(column -> {
            assertThat(column.fieldNames()).toIterable().containsExactly("values", "statuses", "event_timestamps");
            assertThat(column.get("values")).hasSize(3);
            assertThat(column.get("statuses")).hasSize(3);
            assertThat(column.get("event_timestamps")).hasSize(3);
        });
        assertThat(body.at("/results/0/values")).isEqualTo(json.valueToTree(List.of(1001, 1002, 1003)));
        assertThat(body.at("/results/0/statuses")).isEqualTo(json.valueToTree(List.of("PRESENT", "PRESENT", "PRESENT")));
        assertThat(body.at("/results/1/values")).isEqualTo(json.valueToTree(List.of(3, 4, 0)));
        assertThat(body.at("/results/1/statuses")).isEqualTo(json.valueToTree(List.of("PRESENT", "PRESENT", "NOT_FOUND")));
        assertThat(body.at("/results/2/values/1").asDouble()).isCloseTo(events.stream().filter(e -> e.user().equals("1002"))
                .mapToDouble(Sent::amount).sum(), within(1e-6));
        assertThat(body.at("/results/1/event_timestamps/0").asText()).isEqualTo("1970-01-01T00:00:00Z");

        Api.Reply byService = api.post("/get-online-features", "application/json", """
                {"feature_service": "checkout", "entities": {"user_id": ["1001"]}, "full_feature_names": true}""");
        assertThat(byService.body().at("/metadata/feature_names")).isEqualTo(json.valueToTree(
                List.of("user_id", "checkout__orders_1h", "checkout__spend_1h", "checkout__country")));
        assertThat(byService.body().at("/results/1/values/0").asLong()).isEqualTo(3);

        Api.Reply unknownKey = api.post("/get-online-features", "application/json", """
                {"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}}""");
        assertThat(unknownKey.status()).isEqualTo(400);
        assertThat(unknownKey.body().get("error").asText()).isEqualTo("unknown entity key 'driver_id'");
        Api.Reply unknownView = api.post("/get-online-features", "application/json", """
                {"features": ["driver_hourly_stats:orders_1h"], "entities": {"user_id": [1001]}}""");
        assertThat(unknownView.status()).isEqualTo(400);
        assertThat(unknownView.body().get("error").asText()).contains("unknown feature view 'driver_hourly_stats'");
    }

    @Test
    void aFeatureSetSelectsTheFeaturesOfOneModel() {
        String user = users(1).get(0);
        sendShuffled(List.of(randomEvent(new Random(3), user, NOW - MINUTE)), new Random(3));
        TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));

        JsonNode one = api.get("/v1/features/user/" + user + "?feature_set=checkout").body();
        assertThat(one.get("features").fieldNames()).toIterable().containsExactly("orders_1h", "spend_1h", "country");
        assertThat(one.at("/features/orders_1h").asLong()).isEqualTo(1);
        JsonNode many = api.postJson("/v1/features", Map.of("entity", "user", "ids", List.of(user), "feature_set", "checkout")).body();
        assertThat(many.at("/results/0/features")).isEqualTo(one.get("features"));

        Api.Reply both = api.get("/v1/features/user/" + user + "?feature_set=checkout&features=orders_1h");
        assertThat(both.status()).isEqualTo(400);
        assertThat(api.get("/v1/features/user/" + user + "?feature_set=nope").body().get("error").asText())
                .isEqualTo("unknown feature set 'nope'");
    }

    private void assertWindows(JsonNode reply, List<Sent> events) {
        Map<String, long[]> windows = Map.of("10m", new long[] {10 * MINUTE, 5 * MINUTE}, "1h", new long[] {HOUR, 5 * MINUTE},
                "24h", new long[] {24 * HOUR, HOUR});
        windows.forEach((label, w) -> {
            long from = Math.floorDiv(NOW, w[1]) * w[1] - w[0];
            List<Sent> in = events.stream().filter(e -> e.ts() >= from && e.ts() <= NOW).toList();
            String user = events.get(0).user();
            assertThat(reply.at("/features/orders_" + label).asLong()).as("orders_%s of %s", label, user).isEqualTo(in.size());
            assertThat(reply.at("/features/spend_" + label).asDouble()).as("spend_%s of %s", label, user)
                    .isCloseTo(in.stream().mapToDouble(Sent::amount).sum(), within(1e-6));
            if (label.equals("1h")) {
                assertThat(reply.at("/features/units_1h").asLong()).as("units_1h of %s", user)
                        .isEqualTo(in.stream().filter(e -> e.units() != null).mapToLong(Sent::units).sum());
            }
        });
    }

    private static List<String> lastSkus(List<Sent> events, int n) {
        return events.stream().sorted(Comparator.comparingLong(Sent::ts).thenComparing(Sent::id).reversed())
                .limit(n).map(Sent::sku).toList();
    }

    /** The country of the latest event by event time, ties by event id (its ids are ASCII: as their bytes). */
    private static String lastCountry(List<Sent> events) {
        return events.stream().filter(e -> e.country() != null).max(Comparator.comparingLong(Sent::ts).thenComparing(Sent::id))
                .map(Sent::country).orElse(null);
    }

    private Sent randomEvent(Random random, String user, long ts) {
        String[] countries = {"France", "Germany", "United Kingdom"};
        return new Sent("ev-" + UUID.randomUUID(), user, ts, random.nextInt(100_000) / 100.0, "sku-" + random.nextInt(10),
                random.nextInt(10) < 7 ? Long.valueOf(1 + random.nextInt(5)) : null,
                random.nextBoolean() ? countries[random.nextInt(3)] : null);
    }

    /** Sends the events in random order and random request sizes; returns them in the order they arrived. */
    private List<Sent> sendShuffled(List<Sent> events, Random random) {
        List<Sent> order = new ArrayList<>(events);
        Collections.shuffle(order, random);
        List<Sent> arrived = new ArrayList<>();
        for (int i = 0; i < order.size(); ) {
            List<Sent> request = order.subList(i, Math.min(order.size(), i + 1 + random.nextInt(20)));
            Api.Reply reply = api.post("/v1/events", "application/json", array(request).toString());
            assertThat(reply.status()).as(reply.body().toString()).isEqualTo(202);
            arrived.addAll(request);
            i += request.size();
        }
        return arrived;
    }

    private ArrayNode array(List<Sent> events) {
        ArrayNode array = json.createArrayNode();
        for (Sent e : events) {
            ObjectNode o = array.addObject().put("event_id", e.id()).put("event_type", "order").put("user_id", e.user())
                    .put("ts", e.ts()).put("amount", e.amount()).put("sku", e.sku());
            if (e.units() != null) {
                o.put("units", e.units());
            }
            if (e.country() != null) {
                o.put("country", e.country());
            }
        }
        return array;
    }

    private JsonNode features(String user) {
        Api.Reply reply = api.get("/v1/features/user/" + user);
        assertThat(reply.status()).isEqualTo(200);
        return reply.body();
    }

    private long streamLength() {
        return TestServices.streamLength(pipeline);
    }

    private long offlineCount(List<String> users, boolean useFinal) {
        return Long.parseLong(pipeline.offlineTable().query("SELECT count() FROM events" + (useFinal ? " FINAL" : "")
                + " WHERE entity_id IN (" + quoted(users) + ") FORMAT TabSeparated").trim());
    }

    private long offlineDistinctIds(List<String> users) {
        return Long.parseLong(pipeline.offlineTable().query("SELECT uniqExact(event_id) FROM events WHERE entity_id IN ("
                + quoted(users) + ") FORMAT TabSeparated").trim());
    }

    private static String quoted(List<String> values) {
        return values.stream().map(v -> "'" + v + "'").collect(Collectors.joining(", "));
    }

    private static List<String> users(int n) {
        String run = UUID.randomUUID().toString().substring(0, 8);
        List<String> users = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            users.add("u-" + run + "-" + i);
        }
        return users;
    }
}
