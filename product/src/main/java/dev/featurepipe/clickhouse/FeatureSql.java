package dev.featurepipe.clickhouse;

import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.expr.SqlWriter;
import dev.featurepipe.core.registry.AggregateFeature;
import dev.featurepipe.core.registry.Aggregation;
import dev.featurepipe.core.registry.Window;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Compiles an aggregate feature over one window to ClickHouse SQL with the window semantics of the online store:
 * as of time t an entity's value covers its events with {@code floor(t/g)*g - W <= ts <= t} that were also ingested
 * by t (as known at t: an event that arrived late was not served before it arrived either). Each entity has its
 * own t (a training label's time, the moment of a skew check), looked up with {@code transform}, so one query
 * answers many entities at many instants. Valid on ClickHouse 18.16 and current versions: no window functions,
 * no ASOF JOIN, no CTEs, epoch-ms arithmetic instead of date functions.
 */
public final class FeatureSql {
    private FeatureSql() {
    }

    /**
     * A query returning one JSON row {@code {"key": <entity id>, "value": ...}} per entity of {@code asOf} that has
     * events in the window; an entity without any has no row (its value is 0 for count, sum and count_distinct,
     * else null).
     *
     * @param asOf the time t (epoch ms) of each entity
     */
    public static String valuesAt(String table, AggregateFeature f, Window w, Map<String, Long> asOf) {
        List<String> ids = asOf.keySet().stream().map(SqlWriter::quote).toList();
        String t = "toInt64(transform(entity_id, [" + String.join(", ", ids) + "], ["
                + asOf.values().stream().map(Object::toString).collect(Collectors.joining(", ")) + "], 0))";
        String events = "(" + matchingEvents(table, f) + " AND entity_id IN (" + String.join(", ", ids) + "))";
        return query(f, w, "entity_id", events, t);
    }

    /**
     * A query returning one JSON row {@code {"key": <row>, "value": ...}} per row of the points table (columns
     * {@code row, entity_id, as_of}) whose entity has events in the window as of the row's {@code as_of}: the
     * point-in-time join of training sets. Rows without events have no row in the answer.
     */
    public static String valuesAtPoints(String table, String points, AggregateFeature f, Window w) {
        String source = points + " ALL INNER JOIN (" + matchingEvents(table, f) + ") AS e USING entity_id";
        return query(f, w, "row", source, "as_of");
    }

    /** The events a feature aggregates, with its value as column v when it has one. */
    private static String matchingEvents(String table, AggregateFeature f) {
        List<String> where = new ArrayList<>();
        where.add("event_type = " + SqlWriter.quote(f.eventType()));
        if (f.filter() != null) {
            where.add(SqlWriter.condition(f.filter()));
        }
        String v = "";
        if (f.value() != null) {
            where.add("isNotNull(" + SqlWriter.value(f.value()) + ")");
            v = ", assumeNotNull(" + SqlWriter.value(f.value()) + ") AS v";
        }
        return "SELECT entity_id, ts, " + ClickHouseEventTable.INGESTED_AT + ", event_id" + v + " FROM " + table + " FINAL WHERE " + String.join(" AND ", where);
    }

    /** Aggregates the events of {@code source} within the window and known as of time {@code t}, per {@code key}. */
    private static String query(AggregateFeature f, Window w, String key, String source, String t) {
        String window = "ts <= " + t + " AND " + ClickHouseEventTable.INGESTED_AT + " <= " + t;
        if (!w.isLifetime()) {
            long g = w.tileMs();
            window += " AND ts >= intDiv(" + t + ", " + g + ") * " + g + " - " + w.length().toMillis();
        }
        if (f.aggregation() == Aggregation.LAST_N && f.distinct()) {
            return "SELECT key, arrayMap(x -> x.3, arraySlice(arrayReverseSort(groupArray((latest, toString(v), v))), 1, "
                    + f.n() + ")) AS value FROM (SELECT " + key + " AS key, v, max(ts) AS latest FROM " + source + " WHERE "
                    + window + " GROUP BY key, v) GROUP BY key FORMAT JSONEachRow";
        }
        return "SELECT " + key + " AS key, " + aggregate(f) + " AS value FROM " + source + " WHERE " + window
                + " GROUP BY key FORMAT JSONEachRow";
    }

    /**
     * {@link Aggregation#variance} in SQL: the same formula and floor as the online tiles (for equal values such as
     * 0.1, 0.1, 0.1, ClickHouse 18.16's varPop is negative and stddevPop NaN).
     */
    private static String variance() {
        String meanSquare = "(sum(toFloat64(v) * toFloat64(v)) / count())";
        String variance = "(" + meanSquare + " - pow(sum(toFloat64(v)) / count(), 2))";
        return "if(" + variance + " <= " + Aggregation.VARIANCE_FLOOR + " * " + meanSquare + ", 0, " + variance + ")";
    }

    private static String aggregate(AggregateFeature f) {
        return switch (f.aggregation()) {
            case COUNT -> "count()";
            case SUM -> "sum(v)";
            case MIN -> "min(v)";
            case MAX -> "max(v)";
            // a double, also of a decimal, as online; a decimal's sum is exact, so its mean is the same on every version
            case AVG -> f.value().type() == FieldType.DECIMAL ? "toFloat64(sum(v)) / count()" : "avg(toFloat64(v))";
            case COUNT_DISTINCT -> "uniqExact(v)";
            case LAST -> "argMax(v, (ts, event_id))";
            case FIRST_SEEN -> "min(ts)";
            case LAST_SEEN -> "max(ts)";
            case VARIANCE -> variance();
            case STDDEV -> "sqrt(" + variance() + ")";
            case LAST_N -> "arrayMap(x -> x.3, arraySlice(arrayReverseSort(groupArray((ts, event_id, v))), 1, "
                    + f.n() + "))";
        };
    }
}
