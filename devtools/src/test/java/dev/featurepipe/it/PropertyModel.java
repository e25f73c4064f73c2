package dev.featurepipe.it;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.registry.ServedFeature;
import java.math.BigDecimal;
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
    record Tx(String id, String user, long ts, double amount, String item, Long qty, String country, Boolean flag,
              BigDecimal price) {
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
            if (price != null) {
                fields.put("price", price);
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
            Map.entry("last_amounts", new Def("last_n", ALL, tx -> tx.amount() * 2, 4)),
            Map.entry("paid", new Def("sum", ALL, Tx::price, 0)),
            Map.entry("min_price", new Def("min", ALL, Tx::price, 0)),
            Map.entry("max_price", new Def("max", ALL, Tx::price, 0)),
            Map.entry("avg_price", new Def("avg", ALL, Tx::price, 0)),
            Map.entry("last_price", new Def("last", ALL, Tx::price, 0)),
            Map.entry("prices", new Def("count_distinct", ALL, Tx::price, 0)),
            Map.entry("last_prices", new Def("last_n", ALL, Tx::price, 3)),
            Map.entry("n_dear", new Def("count", tx -> tx.price() != null && tx.price().compareTo(new BigDecimal(100)) >= 0
                    && tx.price().compareTo(new BigDecimal(250)) != 0 && tx.price().doubleValue() != 100.5, null, 0)),
            Map.entry("n_dearer", new Def("count", tx -> tx.price() != null && tx.price().doubleValue() > 99.5, null, 0)),
            Map.entry("paid_twice", new Def("sum", ALL, tx -> tx.price() == null ? null : -tx.price().doubleValue() * 2, 0)));

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
                        random.nextInt(3) == 0 ? null : random.nextBoolean(),
                        random.nextInt(5) == 0 ? null : price(random)));
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
            case "sum" -> in.stream().map(def.value()).reduce(null, PropertyModel::add) == null ? absent(w)
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

    /** A price of cents, now and then a round one or one of the filters' bounds, always of scale 2. */
    private static BigDecimal price(Random random) {
        String[] bounds = {"100.00", "250.00", "100.50", "99.50", "0.10"};
        return random.nextInt(6) == 0 ? new BigDecimal(bounds[random.nextInt(bounds.length)])
                : BigDecimal.valueOf(1 + random.nextInt(30_000), 2);
    }

    /** What a feature is over a window without events: a zero of the declared type for count, sum and count_distinct. */
    static Object absent(ServedFeature.WindowValue w) {
        return switch (DEFS.get(w.feature().name()).aggregation()) {
            case "count", "count_distinct" -> 0L;
            case "sum" -> switch (w.feature().resultType()) {
                case DOUBLE -> 0.0;
                case DECIMAL -> BigDecimal.ZERO.setScale(2); // the scale property.yaml declares
                default -> 0L;
            };
            default -> null;
        };
    }

    /**
     * Whether a served or stored value is the reference's: of the same type (a count served as 5.0 is not 5), equal,
     * doubles to a relative 1e-9 (sums of doubles in another order), lists element by element.
     */
    static boolean same(Object expected, Object actual) {
        if (expected == null || actual == null) {
            return expected == actual;
        }
        if (expected.getClass() != actual.getClass() && !(expected instanceof List && actual instanceof List)) {
            return false;
        }
        if (expected instanceof List<?> x && actual instanceof List<?> y) {
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
        // a BigDecimal compares with equals: value and scale, no tolerance
        if (expected instanceof Double x && actual instanceof Double y) {
            return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.max(Math.abs(x), Math.abs(y)));
        }
        return expected.equals(actual);
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
        if (a instanceof BigDecimal x) {
            return x.add((BigDecimal) b);
        }
        return a instanceof Long x && b instanceof Long y ? (Object) (x + y) : (Object) (((Number) a).doubleValue() + ((Number) b).doubleValue());
    }

    private static int bytes(String a, String b) {
        return Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }
}
