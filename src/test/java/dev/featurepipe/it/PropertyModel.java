package dev.featurepipe.it;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.registry.ServedFeature;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Random events for the registry {@code property.yaml} and what each of its features must be, computed from the
 * plain event list by a straightforward reading of the window semantics (not the production code).
 */
final class PropertyModel {
    static final long MINUTE = 60_000;
    static final long HOUR = 60 * MINUTE;

    private PropertyModel() {
    }

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
            Map.entry("var_amount", new Def("variance", ALL, Tx::amount, 0)),
            Map.entry("sd_qty", new Def("stddev", tx -> tx.country() != null && !tx.country().equals("UK"), Tx::qty, 0)),
            Map.entry("sd_line", new Def("stddev", ALL, tx -> tx.qty() == null ? null : tx.amount() * tx.qty(), 0)),
            Map.entry("last_items", new Def("last_n", ALL, Tx::item, 3)),
            Map.entry("last_items_d", new Def("last_n_distinct", ALL, Tx::item, 3)),
            Map.entry("last_amounts", new Def("last_n", ALL, tx -> tx.amount() * 2, 4)));

    /**
     * 0 to 25 events per user: inside and outside every window, ties in time and amount, boundaries, optional
     * fields, duplicates.
     */
    static List<Tx> generate(Random random, List<String> users, long now, long t) {
        String[] countries = {"UK", "FR", "DE", null};
        List<Tx> events = new ArrayList<>();
        for (String user : users) {
            int n = random.nextInt(26);
            for (int i = 0; i < n; i++) {
                long ts;
                int kind = random.nextInt(10);
                double amount = 1 + random.nextInt(20_000) / 100.0;
                if (kind == 0 && !events.isEmpty()) {
                    ts = events.get(events.size() - 1).ts(); // a tie in event time, and in amount (a variance of 0)
                    amount = events.get(events.size() - 1).amount();
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
                // the user in the id: the store dedupes by id across users, the reference per user
                events.add(new Tx("e" + random.nextInt(1_000_000_000) + "-" + user + "-" + i, user, ts, amount,
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

    /** The window semantics, read literally, over the distinct events of one user. */
    static Object reference(ServedFeature.WindowValue w, List<Tx> all, long t) {
        Def def = DEFS.get(w.feature().name());
        long from = w.window().isLifetime() ? Long.MIN_VALUE
                : Math.floorDiv(t, w.window().tileMs()) * w.window().tileMs() - w.window().length().toMillis();
        Map<String, Tx> distinct = new LinkedHashMap<>();
        all.forEach(e -> distinct.putIfAbsent(e.id(), e));
        List<Tx> in = distinct.values().stream().filter(e -> e.ts() >= from && e.ts() <= t).filter(def.filter())
                .filter(e -> def.value() == null || def.value().apply(e) != null).toList();
        Comparator<Tx> latest = Comparator.comparingLong(Tx::ts).thenComparing(Tx::id, PropertyModel::bytes);
        return switch (def.aggregation()) {
            case "count" -> (long) in.size();
            case "sum" -> in.stream().map(def.value()).reduce(null, PropertyModel::add) == null ? 0L
                    : in.stream().map(def.value()).reduce(null, PropertyModel::add);
            case "min" -> in.stream().map(def.value()).min(Comparator.comparingDouble(v -> ((Number) v).doubleValue())).orElse(null);
            case "max" -> in.stream().map(def.value()).max(Comparator.comparingDouble(v -> ((Number) v).doubleValue())).orElse(null);
            case "avg" -> in.isEmpty() ? null : in.stream().mapToDouble(e -> ((Number) def.value().apply(e)).doubleValue()).average().orElseThrow();
            case "variance" -> in.isEmpty() ? null : meanSquaredDeviation(in.stream().map(def.value()).toList());
            case "stddev" -> in.isEmpty() ? null : Math.sqrt(meanSquaredDeviation(in.stream().map(def.value()).toList()));
            case "count_distinct" -> in.stream().map(def.value()).distinct().count();
            case "last" -> in.stream().max(latest).map(def.value()).orElse(null);
            case "first_seen" -> in.stream().map(Tx::ts).min(Long::compare).orElse(null);
            case "last_seen" -> in.stream().map(Tx::ts).max(Long::compare).orElse(null);
            case "last_n" -> in.isEmpty() ? null : in.stream().sorted(latest.reversed()).limit(def.n()).map(def.value()).toList();
            default -> lastDistinct(in, def);
        };
    }

    /** The population variance, in two passes: the mean, then the mean squared deviation from it. */
    private static double meanSquaredDeviation(List<Object> values) {
        double mean = values.stream().mapToDouble(v -> ((Number) v).doubleValue()).average().orElseThrow();
        double squares = 0;
        for (Object v : values) {
            squares += (((Number) v).doubleValue() - mean) * (((Number) v).doubleValue() - mean);
        }
        return squares / values.size();
    }

    /** The n distinct values with the latest times, ties by the larger value. */
    private static Object lastDistinct(List<Tx> in, Def def) {
        Map<Object, Long> latestByValue = new TreeMap<>(Comparator.comparing(Object::toString, PropertyModel::bytes));
        in.forEach(e -> latestByValue.merge(def.value().apply(e), e.ts(), Math::max));
        return latestByValue.isEmpty() ? null : latestByValue.entrySet().stream()
                .sorted(Map.Entry.<Object, Long>comparingByValue()
                        .thenComparing(Map.Entry::getKey, Comparator.comparing(Object::toString, PropertyModel::bytes))
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
}
