package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.clickhouse.FeatureSql;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.registry.AggregateFeature;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.redis.RedisConnections;
import dev.featurepipe.redis.RedisOnlineStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The no-skew property: random event sequences (random times inside and outside every window, shuffled, with
 * duplicates and redeliveries) give, for every feature of a registry that uses every aggregation, the same value
 * three ways: served from the online store, computed by ClickHouse from the feature's SQL at the same instant,
 * and computed here from the plain event list by a straightforward reading of the window semantics.
 * Seeded: {@code -Dfp.property.seed=N -Dfp.property.cases=N} reproduce a run.
 */
@ExtendWith(TestServices.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(600)
class OnlineOfflineEquivalenceIT {
    private static final long SEED = Long.getLong("fp.property.seed", 20261124L);
    private static final int CASES = Integer.getInteger("fp.property.cases", 2000);
    private static final long MINUTE = 60_000;
    private static final long HOUR = 60 * MINUTE;
    private static final long BASE = Instant.parse("2026-06-01T00:00:00Z").toEpochMilli();

    private final ObjectMapper json = new ObjectMapper();
    private final Registry registry = RegistryLoader.load(Path.of("src/test/resources/registry/property.yaml"));
    private final MutableClock clock = new MutableClock(BASE);
    private Config config;
    private RedisConnections redis;
    private RedisOnlineStore online;
    private ClickHouseEventTable offline;

    /** One generated event. */
    record Tx(String id, String user, long ts, double amount, String item, Long qty, String country, Boolean flag) {
        Event event() {
            Map<String, Object> fields = new HashMap<>(Map.of("amount", amount, "item", item));
            if (qty != null) {
                fields.put("qty", qty);
            }
            if (country != null) {
                fields.put("country", country);
            }
            if (flag != null) {
                fields.put("flag", flag);
            }
            return new Event(id, "tx", user, ts, fields);
        }
    }

    /** The reference definition of a feature: which events count and what value they bring, as plain Java. */
    record Def(String aggregation, Predicate<Tx> filter, Function<Tx, Object> value, int n) {
    }

    private static final Predicate<Tx> ALL = tx -> true;
    private static final Map<String, Def> DEFS = Map.ofEntries(
            Map.entry("n", new Def("count", ALL, null, 0)),
            Map.entry("n_big", new Def("count", tx -> tx.qty() != null && tx.amount() * tx.qty() > 50
                    && ("FR".equals(tx.country()) || "DE".equals(tx.country())), null, 0)),
            Map.entry("spend", new Def("sum", ALL, Tx::amount, 0)),
            Map.entry("units", new Def("sum", ALL, Tx::qty, 0)),
            Map.entry("spend_uk", new Def("sum", tx -> tx.country() == null || tx.country().equals("UK"),
                    tx -> tx.qty() == null ? null : tx.amount() * tx.qty() - 1, 0)),
            Map.entry("ratio", new Def("sum", tx -> !Boolean.TRUE.equals(tx.flag()),
                    tx -> tx.qty() == null ? null : tx.amount() / (tx.qty() + 1), 0)),
            Map.entry("min_amount", new Def("min", ALL, Tx::amount, 0)),
            Map.entry("max_qty", new Def("max", ALL, Tx::qty, 0)),
            Map.entry("avg_amount", new Def("avg", ALL, Tx::amount, 0)),
            Map.entry("items", new Def("count_distinct", ALL, Tx::item, 0)),
            Map.entry("qtys", new Def("count_distinct", tx -> tx.country() != null && !tx.country().equals("UK"), Tx::qty, 0)),
            Map.entry("last_country", new Def("last", ALL, Tx::country, 0)),
            Map.entry("last_flag", new Def("last", ALL, Tx::flag, 0)),
            Map.entry("first_seen", new Def("first_seen", ALL, null, 0)),
            Map.entry("first_flagged", new Def("first_seen", tx -> Boolean.TRUE.equals(tx.flag()), null, 0)),
            Map.entry("last_seen", new Def("last_seen", ALL, null, 0)),
            Map.entry("last_items", new Def("last_n", ALL, Tx::item, 3)),
            Map.entry("last_items_d", new Def("last_n_distinct", ALL, Tx::item, 3)),
            Map.entry("last_amounts", new Def("last_n", ALL, tx -> tx.amount() * 2, 4)));

    @BeforeAll
    void start() {
        config = TestServices.config("src/test/resources/registry/property.yaml", Map.of());
        redis = new RedisConnections(config.get(Config.REDIS_URL));
        online = new RedisOnlineStore(redis, registry, config.get(Config.STREAM), clock);
        offline = new ClickHouseEventTable(new ClickHouseClient(config.get(Config.CLICKHOUSE_URL), null),
                config.get(Config.CLICKHOUSE_DATABASE), registry, json);
        offline.ensureSchema();
    }

    @AfterAll
    void stop() {
        redis.close();
        new ClickHouseClient(config.get(Config.CLICKHOUSE_URL), null)
                .execute("DROP DATABASE IF EXISTS " + config.get(Config.CLICKHOUSE_DATABASE));
    }

    @Test
    void onlineOfflineAndReferenceAgreeOnEveryFeatureOfEveryRandomSequence() throws Exception {
        Random random = new Random(SEED);
        Map<String, Long> asOf = new LinkedHashMap<>();
        Map<String, List<Tx>> byUser = new HashMap<>();
        Map<String, Map<String, Object>> served = new HashMap<>();
        List<Tx> sentOffline = new ArrayList<>();
        List<ServedFeature> features = List.copyOf(registry.served("user").values());
        String run = UUID.randomUUID().toString().substring(0, 8);
        for (int c = 0; c < CASES; c++) {
            long now = BASE + random.nextInt(90 * 24) * HOUR + random.nextInt((int) HOUR);
            long t = now + random.nextInt((int) (20 * MINUTE));
            List<String> users = List.of(run + "-" + c + "-a", run + "-" + c + "-b", run + "-" + c + "-c");
            List<Tx> events = generate(random, users, now, t);
            clock.set(now);
            applyInRandomCuts(random, events);
            users.forEach(u -> asOf.put(u, t));
            users.forEach(u -> byUser.put(u, events.stream().filter(e -> e.user().equals(u)).toList()));
            served.putAll(online.read("user", users, features, t));
            sentOffline.addAll(events);
        }
        for (int from = 0; from < sentOffline.size(); from += 50_000) {
            offline.insert(sentOffline.subList(from, Math.min(sentOffline.size(), from + 50_000)).stream().map(Tx::event).toList());
        }

        List<String> mismatches = new ArrayList<>();
        int compared = 0;
        for (ServedFeature f : features) {
            ServedFeature.WindowValue w = (ServedFeature.WindowValue) f;
            Map<String, Object> offlineValues = offlineValues(w, asOf);
            for (Map.Entry<String, Long> user : asOf.entrySet()) {
                Object expected = reference(w, byUser.get(user.getKey()), user.getValue());
                Object onlineValue = served.get(user.getKey()).getOrDefault(w.name(), empty(w.feature()));
                Object offlineValue = offlineValues.getOrDefault(user.getKey(), empty(w.feature()));
                compared += 2;
                if (!same(expected, onlineValue)) {
                    mismatches.add(w.name() + " of " + user.getKey() + " at " + user.getValue() + ": reference " + expected
                            + ", online " + onlineValue);
                }
                if (!same(expected, offlineValue)) {
                    mismatches.add(w.name() + " of " + user.getKey() + " at " + user.getValue() + ": reference " + expected
                            + ", ClickHouse " + offlineValue);
                }
            }
        }
        System.out.printf("equivalence: seed %d, %d cases, %d events, %d values compared, %d mismatched%n",
                SEED, CASES, sentOffline.size(), compared, mismatches.size());
        assertThat(compared).isGreaterThan(CASES * features.size() * 3);
        assertThat(mismatches).as("seed %d", SEED).isEmpty();
    }

    /** 0 to 25 events per user: inside and outside every window, ties in time, boundaries, optional fields, duplicates. */
    private static List<Tx> generate(Random random, List<String> users, long now, long t) {
        String[] countries = {"UK", "FR", "DE", null};
        List<Tx> events = new ArrayList<>();
        for (String user : users) {
            int n = random.nextInt(26);
            for (int i = 0; i < n; i++) {
                long ts;
                int kind = random.nextInt(10);
                if (kind == 0 && !events.isEmpty()) {
                    ts = events.get(events.size() - 1).ts(); // a tie in event time
                } else if (kind == 1) {
                    long[] bounds = {10 * MINUTE, HOUR, 24 * HOUR, 2 * HOUR, 30 * MINUTE};
                    long g = bounds[random.nextInt(bounds.length)] >= 12 * HOUR ? HOUR : 5 * MINUTE;
                    ts = Math.floorDiv(t, g) * g - bounds[random.nextInt(bounds.length)] - random.nextInt(2);
                } else if (kind == 2) {
                    ts = now;
                } else {
                    ts = now - (long) (random.nextDouble() * (random.nextBoolean() ? 3 * HOUR : 40 * HOUR));
                }
                ts = Math.min(ts, now);
                events.add(new Tx("e" + random.nextInt(1_000_000_000) + "-" + i, user, ts, 1 + random.nextInt(20_000) / 100.0,
                        "item-" + random.nextInt(8), random.nextInt(4) == 0 ? null : Long.valueOf(random.nextInt(10)),
                        countries[random.nextInt(countries.length)],
                        random.nextInt(3) == 0 ? null : random.nextBoolean()));
                if (random.nextInt(10) == 0) {
                    events.add(events.get(events.size() - 1)); // sent twice
                }
            }
        }
        Collections.shuffle(events, random);
        return events;
    }

    /** Applies the events in batches of random size, then redelivers a random batch of them. */
    private void applyInRandomCuts(Random random, List<Tx> events) {
        List<LoggedEvent> logged = new ArrayList<>();
        for (int i = 0; i < events.size(); i++) {
            logged.add(new LoggedEvent("1-" + i, events.get(i).event()));
        }
        for (int from = 0; from < logged.size(); ) {
            int to = Math.min(logged.size(), from + 1 + random.nextInt(30));
            online.apply(logged.subList(from, to));
            from = to;
        }
        if (!logged.isEmpty()) {
            int from = random.nextInt(logged.size());
            online.apply(logged.subList(from, Math.min(logged.size(), from + 1 + random.nextInt(10))));
        }
    }

    private Map<String, Object> offlineValues(ServedFeature.WindowValue w, Map<String, Long> asOf) throws Exception {
        Map<String, Object> values = new HashMap<>();
        String rows = offline.query(FeatureSql.valuesAt(ClickHouseEventTable.TABLE, w.feature(), w.window(), asOf));
        for (String line : rows.split("\n")) {
            if (!line.isBlank()) {
                JsonNode row = json.readTree(line);
                values.put(row.get("entity_id").asText(), fromJson(w.feature(), row.get("value")));
            }
        }
        return values;
    }

    private static Object fromJson(AggregateFeature f, JsonNode node) {
        if (node.isArray()) {
            List<Object> list = new ArrayList<>();
            node.forEach(x -> list.add(scalar(x)));
            return list;
        }
        return switch (f.resultType()) {
            case BOOLEAN -> node.asInt() == 1;
            case STRING -> node.asText();
            default -> scalar(node);
        };
    }

    private static Object scalar(JsonNode x) {
        return x.isTextual() ? x.asText() : x.isIntegralNumber() ? (Object) x.asLong() : (Object) x.asDouble();
    }

    private static Object empty(AggregateFeature f) {
        return f.aggregation().zeroWhenEmpty() ? 0L : null;
    }

    /** The window semantics, read literally, over the distinct events of one user. */
    private static Object reference(ServedFeature.WindowValue w, List<Tx> all, long t) {
        Def def = DEFS.get(w.feature().name());
        long from = w.window().isLifetime() ? Long.MIN_VALUE
                : Math.floorDiv(t, w.window().tileMs()) * w.window().tileMs() - w.window().length().toMillis();
        Map<String, Tx> distinct = new LinkedHashMap<>();
        all.forEach(e -> distinct.putIfAbsent(e.id(), e));
        List<Tx> in = distinct.values().stream().filter(e -> e.ts() >= from && e.ts() <= t).filter(def.filter())
                .filter(e -> def.value() == null || def.value().apply(e) != null).toList();
        Comparator<Tx> latest = Comparator.comparingLong(Tx::ts).thenComparing(Tx::id, OnlineOfflineEquivalenceIT::bytes);
        return switch (def.aggregation()) {
            case "count" -> (long) in.size();
            case "sum" -> in.stream().map(def.value()).reduce(null, OnlineOfflineEquivalenceIT::add) == null ? 0L
                    : in.stream().map(def.value()).reduce(null, OnlineOfflineEquivalenceIT::add);
            case "min" -> in.stream().map(def.value()).min(Comparator.comparingDouble(v -> ((Number) v).doubleValue())).orElse(null);
            case "max" -> in.stream().map(def.value()).max(Comparator.comparingDouble(v -> ((Number) v).doubleValue())).orElse(null);
            case "avg" -> in.isEmpty() ? null : in.stream().mapToDouble(e -> ((Number) def.value().apply(e)).doubleValue()).average().orElseThrow();
            case "count_distinct" -> in.stream().map(def.value()).distinct().count();
            case "last" -> in.stream().max(latest).map(def.value()).orElse(null);
            case "first_seen" -> in.stream().map(Tx::ts).min(Long::compare).orElse(null);
            case "last_seen" -> in.stream().map(Tx::ts).max(Long::compare).orElse(null);
            case "last_n" -> in.isEmpty() ? null : in.stream().sorted(latest.reversed()).limit(def.n()).map(def.value()).toList();
            default -> lastDistinct(in, def);
        };
    }

    /** The n distinct values with the latest times, ties by the larger value. */
    private static Object lastDistinct(List<Tx> in, Def def) {
        Map<Object, Long> latestByValue = new TreeMap<>(Comparator.comparing(Object::toString, OnlineOfflineEquivalenceIT::bytes));
        in.forEach(e -> latestByValue.merge(def.value().apply(e), e.ts(), Math::max));
        return latestByValue.isEmpty() ? null : latestByValue.entrySet().stream()
                .sorted(Map.Entry.<Object, Long>comparingByValue()
                        .thenComparing(Map.Entry::getKey, Comparator.comparing(Object::toString, OnlineOfflineEquivalenceIT::bytes))
                        .reversed())
                .limit(def.n()).map(Map.Entry::getKey).toList();
    }

    private static Object add(Object a, Object b) {
        if (a == null) {
            return b;
        }
        return a instanceof Long x && b instanceof Long y ? (Object) (x + y) : (Object) (((Number) a).doubleValue() + ((Number) b).doubleValue());
    }

    private static int bytes(String a, String b) {
        return Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    /** Equal, with numbers equal to a relative 1e-9 (sums of doubles are added in another order). */
    private static boolean same(Object a, Object b) {
        if (a instanceof List<?> x && b instanceof List<?> y) {
            if (x.size() != y.size()) {
                return false;
            }
            for (int i = 0; i < x.size(); i++) {
                if (!same(x.get(i), y.get(i))) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof Number x && b instanceof Number y) {
            double dx = x.doubleValue();
            double dy = y.doubleValue();
            return Math.abs(dx - dy) <= 1e-9 * Math.max(1, Math.max(Math.abs(dx), Math.abs(dy)));
        }
        return Objects.equals(a, b);
    }
}
