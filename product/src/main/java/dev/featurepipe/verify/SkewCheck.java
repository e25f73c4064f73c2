package dev.featurepipe.verify;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.clickhouse.FeatureSql;
import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.OnlineStore;
import dev.featurepipe.core.ProfileStore;
import dev.featurepipe.core.expr.SqlWriter;
import dev.featurepipe.core.registry.AggregateFeature;
import dev.featurepipe.core.registry.ProfileFeature;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.ServedFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * The online/offline skew check: for a sample of entities, every window and lifetime feature is read from the
 * online store, and every profile field from the profile store, and each is recomputed by ClickHouse from the raw
 * events with its SQL, both as of the same instant, and the two are compared (numbers to a relative 1e-9: online
 * sums are kept as doubles, and a profile's inc of doubles adds them in the order they were applied).
 */
public final class SkewCheck {
    /** Per feature: values compared, values that differ, and a few examples of the differences. */
    public record FeatureReport(String feature, int compared, int mismatched, List<String> examples) {
    }

    private static final int EXAMPLES = 3;

    private final Registry registry;
    private final OnlineStore online;
    private final ProfileStore profiles;
    private final ClickHouseEventTable offline;
    /** ClickHouse's decimals are read as written, not through a double. */
    private final ObjectMapper json = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    /** @param profiles read only when a profile field is checked */
    public SkewCheck(Registry registry, OnlineStore online, ProfileStore profiles, ClickHouseEventTable offline) {
        this.registry = registry;
        this.online = online;
        this.profiles = profiles;
        this.offline = offline;
    }

    /** Up to {@code n} entities of {@code entity} that have events offline, a different sample for each seed. */
    public List<String> sample(String entity, int n, long seed) {
        List<String> types = registry.eventTypes().stream().filter(t -> t.entity().equals(entity))
                .map(t -> SqlWriter.quote(t.name())).toList();
        String rows = offline.query("SELECT entity_id FROM " + ClickHouseEventTable.TABLE + " WHERE event_type IN ("
                + String.join(", ", types) + ") GROUP BY entity_id ORDER BY cityHash64(entity_id, " + seed + ") LIMIT " + n
                + " FORMAT TabSeparated");
        return rows.lines().filter(l -> !l.isBlank()).toList();
    }

    /**
     * Compares the named features (all window and lifetime features and profile fields of the entity when empty) at
     * time t: window and lifetime features as the online store serves them, profile fields as the profile store holds
     * them, each against its SQL over the events known at t.
     */
    public List<FeatureReport> check(String entity, List<String> ids, List<String> names, long t) {
        List<ServedFeature> chosen = registry.served(entity).values().stream()
                .filter(f -> !(f instanceof ServedFeature.BatchValue)).filter(f -> names.isEmpty() || names.contains(f.name())).toList();
        List<ServedFeature.WindowValue> features = chosen.stream().filter(ServedFeature.WindowValue.class::isInstance)
                .map(ServedFeature.WindowValue.class::cast).toList();
        List<ServedFeature.ProfileValue> fields = chosen.stream().filter(ServedFeature.ProfileValue.class::isInstance)
                .map(ServedFeature.ProfileValue.class::cast).toList();
        Map<String, Long> asOf = new LinkedHashMap<>();
        ids.forEach(id -> asOf.put(id, t));
        List<FeatureReport> reports = new ArrayList<>();
        if (!features.isEmpty()) {
            Map<String, Map<String, Object>> onlineValues = online.read(entity, ids, List.copyOf(features), t);
            for (ServedFeature.WindowValue f : features) {
                Map<String, Object> offlineValues = offlineValues(FeatureSql.valuesAt(ClickHouseEventTable.TABLE, f.feature(),
                        f.window(), asOf), asOf, node -> typed(f.feature(), node));
                reports.add(compare(f.name(), ids, "online", onlineValues, offlineValues, f.feature().emptyValue()));
            }
        }
        if (!fields.isEmpty()) {
            Map<String, Map<String, Object>> stored = profiles.read(entity, ids);
            for (ServedFeature.ProfileValue p : fields) {
                Map<String, Object> offlineValues = offlineValues(FeatureSql.profileValuesAt(ClickHouseEventTable.TABLE,
                        p.feature(), asOf), asOf, node -> typed(p.feature(), node));
                reports.add(compare(p.name(), ids, "MongoDB", stored, offlineValues, null));
            }
        }
        return reports;
    }

    /** One feature's values of each id, as a store holds them ({@code storeName}) against the offline ones. */
    private static FeatureReport compare(String feature, List<String> ids, String storeName, Map<String, Map<String, Object>> stored,
                                         Map<String, Object> offlineValues, Object empty) {
        int mismatched = 0;
        List<String> examples = new ArrayList<>();
        for (String id : ids) {
            Object on = stored.getOrDefault(id, Map.of()).getOrDefault(feature, empty);
            Object off = offlineValues.getOrDefault(id, empty);
            if (!same(on, off)) {
                mismatched++;
                if (examples.size() < EXAMPLES) {
                    examples.add(id + ": " + storeName + " " + on + ", offline " + off);
                }
            }
        }
        return new FeatureReport(feature, ids.size(), mismatched, examples);
    }

    private Map<String, Object> offlineValues(String sql, Map<String, Long> asOf, Function<JsonNode, Object> typed) {
        Map<String, Object> values = new HashMap<>();
        if (asOf.isEmpty()) {
            return values;
        }
        for (String line : offline.query(sql).split("\n")) {
            if (!line.isBlank()) {
                try {
                    JsonNode row = json.readTree(line);
                    values.put(row.get("key").asText(), typed.apply(row.get("value")));
                } catch (IOException e) {
                    throw new UncheckedIOException("ClickHouse answered a row that is not JSON: " + line, e);
                }
            }
        }
        return values;
    }

    /** A value ClickHouse gave as JSON, in the type the online store serves. */
    public static Object typed(AggregateFeature f, JsonNode node) {
        if (node.isArray()) {
            List<Object> list = new ArrayList<>();
            node.forEach(x -> list.add(scalar(f.value().type(), f.scale(), x)));
            return list;
        }
        return scalar(f.resultType(), f.scale(), node);
    }

    /** A profile field's value ClickHouse gave as JSON, in the type the profile store holds. */
    public static Object typed(ProfileFeature p, JsonNode node) {
        return scalar(p.value().type(), p.scale(), node);
    }

    private static Object scalar(FieldType type, int scale, JsonNode x) {
        return switch (type) {
            case STRING -> x.asText();
            case LONG -> x.asLong();
            case DOUBLE -> x.asDouble();
            case BOOLEAN -> x.asInt() == 1;
            case DECIMAL -> new BigDecimal(x.asText()).setScale(scale);
        };
    }

    /** Equal: decimals exactly (a decimal and another number never), other numbers to a relative 1e-9, lists element by element. */
    public static boolean same(Object a, Object b) {
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
        if (a instanceof BigDecimal || b instanceof BigDecimal) {
            return Objects.equals(a, b);
        }
        if (a instanceof Number x && b instanceof Number y) {
            double dx = x.doubleValue();
            double dy = y.doubleValue();
            return Math.abs(dx - dy) <= 1e-9 * Math.max(1, Math.max(Math.abs(dx), Math.abs(dy)));
        }
        return Objects.equals(a, b);
    }
}
