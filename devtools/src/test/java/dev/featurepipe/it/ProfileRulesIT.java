package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import com.mongodb.client.model.Filters;
import com.mongodb.client.model.Updates;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.clickhouse.FeatureSql;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.registry.ProfileFeature;
import dev.featurepipe.core.registry.ProfileRule;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.export.TrainingSetExport;
import dev.featurepipe.verify.SkewCheck;
import java.math.BigDecimal;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Profile rules by event time, through the whole pipeline: events arrive in requests out of event-time order, with
 * equal times and ids that only their UTF-8 bytes order (U+FF21 sorts after U+1D11E as UTF-16, before it as UTF-8).
 * MongoDB's profiles, the profile fields' SQL, {@code ./fp verify} and a training set with labels between the
 * requests all give what this test computes from the events it sent; verify finds a field changed in MongoDB. On
 * one ClickHouse server, and on a ClickHouse cluster of two shards with the stream in two shards.
 */
@ExtendWith({TestServices.class, TestClickHouseCluster.Sharded.class})
@Timeout(300)
class ProfileRulesIT {
    private static final String REGISTRY = "src/test/resources/registry/profile.yaml";
    private static final String[] COUNTRIES = {"a", "b", "c", "de", "fr"};
    /** Characters that order event ids at equal times: Java's String order and UTF-8's disagree on the last two. */
    private static final String[] TIE_BREAKERS = {"a", "b", "Z", "é", "\uFF21", "\uD834\uDD1E"};
    private static final int REQUESTS = 8;

    private final ObjectMapper json = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    /** One sent event as the test remembers it, with the request that sent it. */
    private record Sent(String id, String user, long ts, BigDecimal amount, double price, Long units, String country,
                        Boolean gift, int request) {
        Map<String, Object> values() {
            Map<String, Object> v = new HashMap<>();
            v.put("amount", amount);
            v.put("price", price);
            v.put("units", units);
            v.put("country", country);
            v.put("gift", gift);
            return v;
        }
    }

    @Test
    void onOneClickHouseServer(@TempDir Path dir) throws Exception {
        profilesFollowEventTimeInMongoDbSqlVerifyAndTrainingSets(TestServices.config(REGISTRY, Map.of(Config.ONLINE_BATCH, "16")),
                List.of(TestServices.CLICKHOUSE), dir);
    }

    @Test
    void onAClickHouseClusterWithTwoStreamShards(@TempDir Path dir) throws Exception {
        profilesFollowEventTimeInMongoDbSqlVerifyAndTrainingSets(TestClickHouseCluster.SHARDED.config(REGISTRY,
                Map.of(Config.ONLINE_BATCH, "16", Config.STREAM_SHARDS, "2")), TestClickHouseCluster.SHARDED.nodes(), dir);
    }

    /** @param clickhouse the ClickHouse servers whose database of the test is dropped at the end */
    private void profilesFollowEventTimeInMongoDbSqlVerifyAndTrainingSets(Config config, List<URI> clickhouse, Path dir) throws Exception {
        Random random = new Random(20261204);
        String run = UUID.randomUUID().toString().substring(0, 8);
        List<String> users = IntStream.range(0, 8).mapToObj(i -> "profile-" + run + "-" + i).toList();
        long base = System.currentTimeMillis() - Duration.ofHours(1).toMillis();
        List<Sent> events = events(random, run, users, base);
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.allOf(Role.class), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            Registry registry = pipeline.stores().registry();
            // the end of each request: a label after it and before the next sees exactly the events sent up to it
            long[] sentBy = new long[REQUESTS];
            long before = System.currentTimeMillis() - 1;
            for (int r = 0; r < REQUESTS; r++) {
                ArrayNode body = json.createArrayNode();
                for (Sent e : events) {
                    if (e.request() == r) {
                        body.add(toJson(e));
                    }
                }
                Sleep.millis(20);
                assertThat(api.post("/v1/events", "application/json", body.toString()).status()).isEqualTo(202);
                sentBy[r] = System.currentTimeMillis();
                Sleep.millis(20);
            }
            TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));
            assertThat(pipeline.offlineTable().query("SELECT engine FROM system.tables WHERE database = currentDatabase()"
                    + " AND name = 'events' FORMAT TabSeparated").strip())
                    .isEqualTo(clickhouse.size() > 1 ? "Distributed" : "ReplacingMergeTree");
            long now = System.currentTimeMillis();
            List<ProfileFeature> fields = registry.served("user").values().stream()
                    .filter(ServedFeature.ProfileValue.class::isInstance).map(f -> ((ServedFeature.ProfileValue) f).feature()).toList();
            assertThat(fields).hasSize(13);

            // MongoDB and the SQL, as of now, against the reference
            Map<String, Map<String, Object>> stored = pipeline.stores().profileStore().read("user", users);
            Map<String, Long> asOf = new LinkedHashMap<>();
            users.forEach(u -> asOf.put(u, now));
            List<String> mismatches = new ArrayList<>();
            for (ProfileFeature p : fields) {
                Map<String, Object> offline = new HashMap<>();
                for (String line : pipeline.offlineTable().query(FeatureSql.profileValuesAt(ClickHouseEventTable.TABLE, p, asOf)).split("\n")) {
                    if (!line.isBlank()) {
                        JsonNode row = json.readTree(line);
                        offline.put(row.get("key").asText(), SkewCheck.typed(p, row.get("value")));
                    }
                }
                for (String user : users) {
                    Object expected = reference(p, events.stream().filter(e -> e.user().equals(user)).toList());
                    Object inMongo = stored.getOrDefault(user, Map.of()).get(p.name());
                    if (!same(p, expected, inMongo)) {
                        mismatches.add(p.name() + " of " + user + ": reference " + expected + ", MongoDB " + inMongo);
                    }
                    if (!same(p, expected, offline.get(user))) {
                        mismatches.add(p.name() + " of " + user + ": reference " + expected + ", SQL " + offline.get(user));
                    }
                }
            }
            assertThat(mismatches).isEmpty();
            // the ties were decided by bytes, against the arrival order
            String first = users.get(0);
            assertThat(stored.get(first).get("country")).isEqualTo("latest");
            assertThat(stored.get(first).get("first_country")).isEqualTo("earliest");

            // verify finds them equal, then a profile field changed in MongoDB
            VerifyRun.Result clean = VerifyRun.run(config, 100);
            assertThat(clean.last()).isEqualTo("verify: checked=" + users.size() * (fields.size() + 3) + " mismatched=0");
            assertThat(clean.exitCode()).isZero();
            assertThat(clean.lines()).anySatisfy(l -> assertThat(l).matches("\\s+first_country\\s+compared\\s+8\\s+mismatched\\s+0"));
            pipeline.stores().mongo().database().getCollection("user")
                    .updateOne(Filters.eq("_id", users.get(3)), Updates.set("total_units", 1_000_000L));
            VerifyRun.Result tampered = VerifyRun.run(config, 100);
            assertThat(tampered.lines()).anySatisfy(l -> assertThat(l).matches("\\s+total_units\\s+compared\\s+8\\s+mismatched\\s+1"));
            assertThat(tampered.lines()).anySatisfy(l -> assertThat(l).contains(users.get(3) + ": MongoDB 1000000, offline "));
            assertThat(tampered.last()).endsWith(" mismatched=1");
            assertThat(tampered.exitCode()).isEqualTo(1);

            // a training set with every feature: labels before the events and between the requests
            StringBuilder labels = new StringBuilder("user_id,ts\n");
            List<long[]> points = new ArrayList<>(); // user index, time
            for (int u = 0; u < users.size(); u++) {
                List<Long> times = new ArrayList<>(List.of(before - Duration.ofHours(2).toMillis(), before));
                for (int r = 0; r < REQUESTS; r++) {
                    times.add(sentBy[r] + 5);
                }
                for (long t : times) {
                    labels.append(users.get(u)).append(',').append(t).append('\n');
                    points.add(new long[] {u, t});
                }
            }
            Path labelFile = dir.resolve("labels.csv");
            Path out = dir.resolve("training.csv");
            Files.writeString(labelFile, labels, StandardCharsets.UTF_8);
            new TrainingSetExport(registry, new ClickHouseClient(config.get(Config.CLICKHOUSE_URL), null)
                    .withDatabase(config.get(Config.CLICKHOUSE_DATABASE)), json).export(labelFile, "user", List.of(), out, n -> { });
            List<Map<String, String>> rows;
            try (MappingIterator<Map<String, String>> it = new CsvMapper().readerForMapOf(String.class)
                    .with(CsvSchema.emptySchema().withHeader()).readValues(out.toFile())) {
                rows = it.readAll();
            }
            assertThat(rows).hasSize(points.size());
            assertThat(rows.get(0).keySet()).containsAll(fields.stream().map(ProfileFeature::name).toList());
            int seen = 0;
            for (int i = 0; i < rows.size(); i++) {
                String user = users.get((int) points.get(i)[0]);
                long t = points.get(i)[1];
                List<Sent> known = events.stream().filter(e -> e.user().equals(user) && e.ts() <= t && sentBy[e.request()] <= t).toList();
                seen += known.size();
                Map<String, String> row = rows.get(i);
                assertThat(row.get("orders_lifetime")).isEqualTo(Integer.toString(known.size()));
                assertThat(row.get("latest_country")).as("the last feature and the set rule agree").isEqualTo(row.get("country"));
                for (ProfileFeature p : fields) {
                    Object expected = reference(p, known);
                    Object actual = cell(p, row.get(p.name()));
                    if (!same(p, expected, actual)) {
                        mismatches.add(p.name() + " of " + user + " at " + t + ": reference " + expected + ", training set " + actual);
                    }
                }
            }
            assertThat(mismatches).isEmpty();
            assertThat(seen).as("labels saw some of the events and not others").isBetween(events.size() + 1, events.size() * REQUESTS - 1);
        } finally {
            for (URI server : clickhouse) {
                new ClickHouseClient(server, null).execute("DROP DATABASE IF EXISTS " + config.get(Config.CLICKHOUSE_DATABASE));
            }
        }
    }

    /**
     * Random events at a few event times (so many are equal), in random requests; and for the first user a latest
     * and an earliest pair at one time each, whose winner by bytes arrives on the wrong side of its loser.
     */
    private static List<Sent> events(Random random, String run, List<String> users, long base) {
        List<Sent> events = new ArrayList<>();
        int seq = 0;
        for (String user : users) {
            for (int i = 0; i < 30; i++) {
                long ts = base - random.nextInt(6) * 60_000L;
                String id = run + "-" + TIE_BREAKERS[random.nextInt(TIE_BREAKERS.length)] + "-" + seq++;
                events.add(new Sent(id, user, ts, BigDecimal.valueOf(random.nextInt(10_000) + 1, 2),
                        Math.round(random.nextDouble() * 1000) / 100.0 + 1e-3 * random.nextInt(3),
                        random.nextInt(4) == 0 ? null : (long) random.nextInt(20),
                        random.nextInt(5) == 0 ? null : COUNTRIES[random.nextInt(COUNTRIES.length)],
                        random.nextInt(3) == 0 ? null : random.nextBoolean(), random.nextInt(REQUESTS)));
            }
        }
        String user = users.get(0);
        long latest = base + 1;
        long earliest = base - 10 * 60_000L;
        // U+1D11E is the larger by bytes: the latest; U+FF21 the smaller: the earliest
        events.add(new Sent(run + "-\uD834\uDD1E", user, latest, new BigDecimal("1.00"), 2.0, 1L, "latest", true, 1));
        events.add(new Sent(run + "-\uFF21", user, latest, new BigDecimal("2.00"), 3.0, 2L, "not latest", false, 6));
        events.add(new Sent(run + "-\uD834\uDD1E-e", user, earliest, new BigDecimal("3.00"), 4.0, 3L, "not earliest", true, 1));
        events.add(new Sent(run + "-\uFF21-e", user, earliest, new BigDecimal("4.00"), 5.0, 4L, "earliest", false, 6));
        Collections.shuffle(events, random);
        return events;
    }

    private ObjectNode toJson(Sent e) {
        ObjectNode o = json.createObjectNode().put("event_id", e.id()).put("event_type", "order").put("user_id", e.user())
                .put("ts", e.ts()).put("amount", e.amount()).put("price", e.price());
        if (e.units() != null) {
            o.put("units", e.units());
        }
        if (e.country() != null) {
            o.put("country", e.country());
        }
        if (e.gift() != null) {
            o.put("gift", e.gift());
        }
        return o;
    }

    /** Event time, ties by the id's UTF-8 bytes: the order the rules follow, written here on its own. */
    private static final Comparator<Sent> EVENT_TIME = Comparator.comparingLong(Sent::ts).thenComparing(
            (a, b) -> Arrays.compareUnsigned(a.id().getBytes(StandardCharsets.UTF_8), b.id().getBytes(StandardCharsets.UTF_8)));

    /** The field as its rule keeps it from these events: null when no event gives it a value. */
    private static Object reference(ProfileFeature p, List<Sent> events) {
        Function<Sent, Object> value = switch (p.name()) {
            case "country", "first_country" -> Sent::country;
            case "last_gift" -> Sent::gift;
            case "last_refund" -> e -> e.amount().negate();
            // the filter is country != 'b', false for a missing country
            case "low_refund" -> e -> e.country() == null || e.country().equals("b") ? null : e.amount().negate();
            case "first_price", "total_price" -> Sent::price;
            case "low_price" -> e -> e.price() > 1 ? e.price() : null;
            case "order_count" -> e -> 1L;
            case "total_units" -> Sent::units;
            case "top_units" -> e -> e.units() == null ? null : e.units() * 2;
            case "total_amount", "top_amount" -> Sent::amount;
            default -> throw new AssertionError("no reference for " + p.name());
        };
        List<Sent> applied = events.stream().filter(e -> value.apply(e) != null).sorted(EVENT_TIME).toList();
        if (applied.isEmpty()) {
            return null;
        }
        List<Object> values = applied.stream().map(value).toList();
        return switch (p.rule()) {
            case SET -> values.get(values.size() - 1);
            case SET_ONCE -> values.get(0);
            case INC -> values.get(0) instanceof BigDecimal ? values.stream().map(BigDecimal.class::cast).reduce(BigDecimal::add).orElseThrow()
                    : values.get(0) instanceof Long ? (Object) values.stream().mapToLong(v -> (Long) v).sum()
                    : (Object) values.stream().mapToDouble(v -> (Double) v).sum();
            case MAX -> values.stream().max(ProfileRulesIT::compareNumbers).orElseThrow();
            case MIN -> values.stream().min(ProfileRulesIT::compareNumbers).orElseThrow();
        };
    }

    private static int compareNumbers(Object a, Object b) {
        return a instanceof BigDecimal x ? x.compareTo((BigDecimal) b) : Double.compare(((Number) a).doubleValue(), ((Number) b).doubleValue());
    }

    /**
     * Equal: decimals with their scale, whole numbers exactly, a sum of doubles to a relative 1e-9 (added in another
     * order), any other double exactly.
     */
    private static boolean same(ProfileFeature p, Object expected, Object actual) {
        if (expected == null || actual == null) {
            return expected == actual;
        }
        if (expected instanceof Double d && actual instanceof Double a && p.rule() == ProfileRule.INC) {
            return Math.abs(d - a) <= 1e-9 * Math.max(1, Math.abs(d));
        }
        if (expected instanceof Long l && (actual instanceof Long || actual instanceof Integer)) {
            return l == ((Number) actual).longValue();
        }
        return Objects.equals(expected, actual);
    }

    /** A training set's cell, read as the field's type. */
    private static Object cell(ProfileFeature p, String text) {
        if (text == null || text.isEmpty()) {
            return null;
        }
        return switch (p.value().type()) {
            case STRING -> text;
            case LONG -> Long.parseLong(text);
            case DOUBLE -> Double.parseDouble(text);
            case BOOLEAN -> Boolean.parseBoolean(text);
            case DECIMAL -> new BigDecimal(text);
        };
    }
}
