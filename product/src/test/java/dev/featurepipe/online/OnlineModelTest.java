package dev.featurepipe.online;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.registry.AggregateFeature;
import dev.featurepipe.core.registry.Aggregation;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.core.registry.Window;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Every aggregation folded into tiles and read back equals the window semantics computed here from the plain event
 * list: the events with {@code floor(t/g)*g - W <= ts <= t}, aggregated.
 */
class OnlineModelTest {
    static final long MINUTE = 60_000;
    /** Inside a 5-minute tile, so that the tile boundaries differ from t. */
    static final long T = Instant.parse("2026-05-01T10:02:30Z").toEpochMilli();
    static final Registry REGISTRY = RegistryLoader.parse("""
            entities:
              user:
                key: user_id
            events:
              order:
                entity: user
                fields:
                  amount: {type: double, required: true}
                  qty: long
                  sku: {type: string, required: true}
              click:
                entity: user
                fields:
                  page: {type: string, required: true}
            features:
              - {name: n, event: order, aggregation: count, windows: [10m, 1h, lifetime]}
              - {name: spend, event: order, aggregation: sum, value: amount, windows: [10m, 1h, lifetime]}
              - {name: units, event: order, aggregation: sum, value: qty, windows: [1h]}
              - {name: low, event: order, aggregation: min, value: amount, windows: [10m, lifetime]}
              - {name: high, event: order, aggregation: max, value: qty, windows: [1h]}
              - {name: mean, event: order, aggregation: avg, value: amount, windows: [10m, 2h], tile: 10m}
              - {name: skus, event: order, aggregation: count_distinct, value: sku, windows: [1h, lifetime]}
              - {name: last_sku, event: order, aggregation: last, value: sku, windows: [10m, lifetime]}
              - {name: first, event: order, aggregation: first_seen, windows: [1h]}
              - {name: seen, event: order, aggregation: last_seen, windows: [10m, lifetime]}
              - {name: recent, event: order, aggregation: last_n, value: sku, n: 3}
              - {name: recent_skus, event: order, aggregation: last_n, value: sku, n: 3, distinct: true}
              - {name: spread, event: order, aggregation: variance, value: amount, windows: [10m, lifetime]}
              - {name: qty_sd, event: order, aggregation: stddev, value: qty, windows: [1h]}
              - {name: clicks, event: click, aggregation: count, windows: [10m, 1h]}
            """, "the online model test");

    /** An order event; qty may be missing. */
    record Order(String id, long ts, double amount, Long qty, String sku) {
        Event event() {
            Map<String, Object> fields = new HashMap<>(Map.of("amount", amount, "sku", sku));
            if (qty != null) {
                fields.put("qty", qty);
            }
            return new Event(id, "order", "u1", ts, fields);
        }
    }

    /** What each feature of the registry aggregates, as this test reads it. */
    private static final Map<String, Function<Order, Object>> VALUES = Map.ofEntries(
            Map.entry("spend", Order::amount), Map.entry("low", Order::amount), Map.entry("mean", Order::amount),
            Map.entry("units", Order::qty), Map.entry("high", Order::qty), Map.entry("skus", Order::sku),
            Map.entry("last_sku", Order::sku), Map.entry("recent", Order::sku), Map.entry("recent_skus", Order::sku),
            Map.entry("spread", Order::amount), Map.entry("qty_sd", Order::qty));

    @Test
    void everyAggregationOverEveryWindowIsTheAggregateOfTheEventsWithinItsBounds() {
        for (int seed = 0; seed < 40; seed++) {
            Random random = new Random(seed);
            List<Order> orders = randomOrders(random);
            InMemoryState state = foldInChunks(orders, random, T);
            for (long t : new long[] {T, T + 3 * MINUTE, T + 61 * MINUTE}) {
                for (ServedFeature served : REGISTRY.served("user").values()) {
                    ServedFeature.WindowValue w = (ServedFeature.WindowValue) served;
                    if (w.feature().eventType().equals("order")) {
                        assertValue(read(state, w, t), expected(w.feature(), w.window(), orders, t),
                                "seed " + seed + ", " + w.name() + " at T+" + (t - T) / MINUTE + "m");
                    }
                }
            }
        }
    }

    @Test
    void anEventExactlyAtTheLowerBoundIsInTheWindowAndOneMillisecondBeforeIsNot() {
        long tenMinutesBound = T - 2 * MINUTE - 30_000 - 10 * MINUTE; // floor(T / 5m) * 5m - 10m
        InMemoryState state = fold(T, new Order("at", tenMinutesBound, 2.0, 1L, "a"),
                new Order("before", tenMinutesBound - 1, 3.0, 1L, "b"));

        assertThat(read(state, served("n_10m"), T)).isEqualTo(1L);
        assertThat(read(state, served("spend_10m"), T)).isEqualTo(2.0);
        assertThat(read(state, served("seen_10m"), T)).isEqualTo(tenMinutesBound);
        assertThat(read(state, served("n_1h"), T)).isEqualTo(2L);
        assertThat(read(state, served("n_10m"), T + 2 * MINUTE + 29_999)).as("the same tile period").isEqualTo(1L);
        assertThat(read(state, served("n_10m"), T + 2 * MINUTE + 30_000)).as("the next tile period").isEqualTo(0L);
    }

    @Test
    void theLifetimeWindowHoldsEveryEventAndTheWindowsOnlyRecentOnes() {
        long yearAgo = T - 365L * 24 * 60 * MINUTE;
        InMemoryState state = fold(T, new Order("old", yearAgo, 5.0, 2L, "a"), new Order("new", T - MINUTE, 7.5, 3L, "b"));

        assertThat(read(state, served("n_lifetime"), T)).isEqualTo(2L);
        assertThat(read(state, served("spend_lifetime"), T)).isEqualTo(12.5);
        assertThat(read(state, served("low_lifetime"), T)).isEqualTo(5.0);
        assertThat(read(state, served("skus_lifetime"), T)).isEqualTo(2L);
        assertThat(read(state, served("n_1h"), T)).isEqualTo(1L);
        assertThat(read(state, served("low_10m"), T)).isEqualTo(7.5);
    }

    @Test
    void theLastValueOfATieInEventTimeIsTheOneWithTheLargerEventIdInBytes() {
        String halfwidth = "x\uFF61"; // UTF-8 EF BD A1: smaller in bytes, larger as Java chars
        String emoji = "x\uD83D\uDE00"; // UTF-8 F0 9F 98 80
        assertThat(halfwidth.compareTo(emoji)).as("the order Java's String gives").isPositive();
        Order a = new Order(halfwidth, T - MINUTE, 1.0, null, "halfwidth");
        Order b = new Order(emoji, T - MINUTE, 1.0, null, "emoji");

        for (List<Order> order : List.of(List.of(a, b), List.of(b, a))) {
            assertThat(read(fold(T, order.toArray(Order[]::new)), served("last_sku_10m"), T)).as("one chunk").isEqualTo("emoji");
            InMemoryState twoChunks = fold(T, order.get(0));
            twoChunks.write(chunk(T, order.get(1)).writes());
            assertThat(read(twoChunks, served("last_sku_lifetime"), T)).as("two chunks").isEqualTo("emoji");
        }
    }

    @Test
    void theRecentValuesAreTheLatestEventsMostRecentFirstAndDistinctOnesKeepTheirLatestTime() {
        InMemoryState state = fold(T, new Order("1", T - 5, 1, null, "a"), new Order("2", T - 4, 1, null, "b"),
                new Order("3", T - 3, 1, null, "a"), new Order("4", T - 2, 1, null, "c"), new Order("5", T - 9, 1, null, "d"));

        assertThat(read(state, served("recent"), T)).isEqualTo(List.of("c", "a", "b"));
        assertThat(read(state, served("recent_skus"), T)).isEqualTo(List.of("c", "a", "b"));
        state.write(chunk(T, new Order("6", T - 1, 1, null, "b")).writes());
        assertThat(read(state, served("recent_skus"), T)).as("b raised to its latest time").isEqualTo(List.of("b", "c", "a"));
    }

    @Test
    void theVarianceOfEqualValuesIsZeroAndOfOthersTheMeanSquaredDeviation() {
        InMemoryState equal = fold(T, new Order("a", T - 1, 0.1, 3L, "s"), new Order("b", T - 2, 0.1, 3L, "s"),
                new Order("c", T - 3, 0.1, 3L, "s"));
        assertThat(read(equal, served("spread_10m"), T)).as("0.1 has no exact double: rounding is left").isEqualTo(0.0);
        assertThat(read(equal, served("qty_sd_1h"), T)).isEqualTo(0.0);
        assertThat(read(fold(T, new Order("a", T, 7.5, 5L, "s")), served("spread_lifetime"), T)).isEqualTo(0.0);

        InMemoryState spread = fold(T, new Order("a", T - 1, 2, 1L, "s"), new Order("b", T - 2, 4, 3L, "s"),
                new Order("c", T - 3, 9, 8L, "s"));
        assertThat((Double) read(spread, served("spread_10m"), T)).isCloseTo(26.0 / 3, within(1e-12));
        assertThat((Double) read(spread, served("qty_sd_1h"), T)).isCloseTo(Math.sqrt(26.0 / 3), within(1e-12));
        assertThat(read(new InMemoryState(), served("spread_10m"), T)).as("no state").isNull();
    }

    /** 10 to 40 orders: at and one ms before each window's bounds, at t, ties in time, repeated, and anywhere in 3 h. */
    private static List<Order> randomOrders(Random random) {
        List<Long> bounds = new ArrayList<>();
        for (ServedFeature served : REGISTRY.served("user").values()) {
            Window w = ((ServedFeature.WindowValue) served).window();
            for (long t : new long[] {T, T + 3 * MINUTE, T + 61 * MINUTE}) {
                if (!w.isLifetime() && lowerBound(w, t) <= T) {
                    bounds.add(lowerBound(w, t));
                    bounds.add(lowerBound(w, t) - 1);
                }
            }
        }
        String[] skus = {"a", "b", "\u00e9", "z", "x\uFF61"};
        List<Order> orders = new ArrayList<>();
        int n = 10 + random.nextInt(31);
        for (int i = 0; i < n; i++) {
            long ts = switch (random.nextInt(6)) {
                case 0 -> bounds.get(random.nextInt(bounds.size()));
                case 1 -> T;
                case 2 -> orders.isEmpty() ? T : orders.get(random.nextInt(orders.size())).ts();
                default -> T - (long) (random.nextDouble() * 180 * MINUTE);
            };
            if (!orders.isEmpty() && random.nextInt(8) == 0) {
                orders.add(orders.get(random.nextInt(orders.size()))); // delivered again
                continue;
            }
            orders.add(new Order("e" + i, ts, random.nextInt(100_00) / 100.0,
                    random.nextInt(4) == 0 ? null : (long) random.nextInt(20), skus[random.nextInt(skus.length)]));
        }
        return orders;
    }

    /** Folds the orders in chunks of 1 to 7 events at {@code now}, each without the events applied before. */
    private static InMemoryState foldInChunks(List<Order> orders, Random random, long now) {
        InMemoryState state = new InMemoryState();
        for (int from = 0; from < orders.size(); ) {
            int to = Math.min(orders.size(), from + 1 + random.nextInt(7));
            ChunkFold fold = chunk(now, orders.subList(from, to).stream()
                    .filter(o -> !state.applied.contains(o.event().key())).toArray(Order[]::new));
            assertThat(state.write(fold.writes())).isTrue();
            from = to;
        }
        return state;
    }

    static InMemoryState fold(long now, Order... orders) {
        InMemoryState state = new InMemoryState();
        state.write(chunk(now, orders).writes());
        return state;
    }

    static ChunkFold chunk(long now, Order... orders) {
        ChunkFold fold = new ChunkFold(REGISTRY, now);
        for (Order o : orders) {
            fold.add(o.event());
        }
        return fold;
    }

    static ServedFeature.WindowValue served(String name) {
        return (ServedFeature.WindowValue) REGISTRY.served("user").get(name);
    }

    /** What the online store serves for a window: folded from tiles, or the recent values of last_n. */
    static Object read(InMemoryState state, ServedFeature.WindowValue w, long t) {
        AggregateFeature f = w.feature();
        FeatureKey key = new FeatureKey("user", "u1", f.name());
        if (f.aggregation() == Aggregation.LAST_N) {
            List<String> members = state.members(key);
            return members.isEmpty() ? null : members.stream().limit(f.n())
                    .map(m -> StoredValues.typed(f.value().type(), f.scale(), StoredValues.recentValue(m, f.distinct()))).toList();
        }
        Map<String, String> fields = state.hash(key);
        return fields.isEmpty() ? null : TileReader.value(f, w.window(), fields, t);
    }

    private static long lowerBound(Window w, long t) {
        return t - Math.floorMod(t, w.tileMs()) - w.length().toMillis();
    }

    /** The window semantics read literally, over the distinct orders (the first of each event_id). */
    private static Object expected(AggregateFeature f, Window w, List<Order> orders, long t) {
        Map<String, Order> byId = new LinkedHashMap<>();
        orders.forEach(o -> byId.putIfAbsent(o.id(), o));
        if (byId.isEmpty()) {
            return null;
        }
        long from = w.isLifetime() ? Long.MIN_VALUE : lowerBound(w, t);
        Function<Order, Object> value = VALUES.getOrDefault(f.name(), o -> o.ts());
        List<Order> in = byId.values().stream().filter(o -> o.ts() >= from && o.ts() <= t)
                .filter(o -> value.apply(o) != null).toList();
        List<Object> values = in.stream().map(value).toList();
        Comparator<Object> numbers = Comparator.comparingDouble(v -> ((Number) v).doubleValue());
        Comparator<Order> latest = Comparator.comparingLong(Order::ts).thenComparing(Order::id, InMemoryState.BY_BYTES);
        return switch (f.aggregation()) {
            case COUNT -> (long) in.size();
            case SUM -> f.value().type() == FieldType.LONG ? (Object) values.stream().mapToLong(v -> (Long) v).sum()
                    : (Object) values.stream().mapToDouble(v -> (Double) v).sum();
            case MIN, FIRST_SEEN -> values.stream().min(numbers).orElse(null);
            case MAX, LAST_SEEN -> values.stream().max(numbers).orElse(null);
            case AVG -> values.isEmpty() ? null : values.stream().mapToDouble(v -> (Double) v).sum() / values.size();
            case VARIANCE -> values.isEmpty() ? null : meanSquaredDeviation(values);
            case STDDEV -> values.isEmpty() ? null : Math.sqrt(meanSquaredDeviation(values));
            case COUNT_DISTINCT -> (long) new java.util.HashSet<>(values).size();
            case LAST -> in.stream().max(latest).map(value).orElse(null);
            case LAST_N -> f.distinct() ? latestDistinct(in, f.n()) : in.stream().sorted(latest.reversed())
                    .limit(f.n()).map(value).toList();
        };
    }

    /** Two passes: the mean, then the mean of the squared deviations from it. */
    private static double meanSquaredDeviation(List<Object> values) {
        double mean = values.stream().mapToDouble(v -> ((Number) v).doubleValue()).sum() / values.size();
        return values.stream().mapToDouble(v -> Math.pow(((Number) v).doubleValue() - mean, 2)).sum() / values.size();
    }

    /** The n skus with the latest times, ties by the larger sku in bytes. */
    private static List<Object> latestDistinct(List<Order> in, int n) {
        Map<String, Long> latestBySku = in.stream().collect(Collectors.toMap(Order::sku, Order::ts, Math::max));
        List<Map.Entry<String, Long>> ranked = new ArrayList<>(latestBySku.entrySet());
        ranked.sort(Map.Entry.<String, Long>comparingByValue().thenComparing(Map.Entry::getKey, InMemoryState.BY_BYTES));
        Collections.reverse(ranked);
        return ranked.stream().limit(n).map(e -> (Object) e.getKey()).toList();
    }

    /** Equal values of the same type; doubles to within rounding (the sums add in another order). */
    private static void assertValue(Object actual, Object expected, String what) {
        if (expected instanceof Double d) {
            assertThat(actual).as(what).isInstanceOf(Double.class);
            assertThat((Double) actual).as(what).isCloseTo(d, within(1e-9 * Math.max(1, Math.abs(d))));
        } else {
            assertThat(actual).as(what).isEqualTo(expected);
        }
    }
}
