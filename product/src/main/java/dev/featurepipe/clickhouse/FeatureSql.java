package dev.featurepipe.clickhouse;

import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.expr.Expr;
import dev.featurepipe.core.expr.SqlWriter;
import dev.featurepipe.core.registry.AggregateFeature;
import dev.featurepipe.core.registry.Aggregation;
import dev.featurepipe.core.registry.ProfileFeature;
import dev.featurepipe.core.registry.Window;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Compiles an aggregate feature over one window to ClickHouse SQL with the window semantics of the online store:
 * as of time t an entity's value covers its events with {@code floor(t/g)*g - W <= ts <= t} that were also ingested
 * by t (as known at t: an event that arrived late was not served before it arrived either); and a profile rule,
 * from the same definition the profile store applies, to the field's value from the events known at t. Each entity
 * has its own t (a training label's time, the moment of a skew check), looked up with {@code transform}, so one
 * query answers many entities at many instants. Valid on ClickHouse 18.16 and current versions: no window functions,
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
        return query(f, w, ofEntities(matchingEvents(table, f.eventType(), f.filter(), f.value()), asOf));
    }

    /**
     * A query returning one JSON row {@code {"key": <row>, "value": ...}} per row of the points table (columns
     * {@code row, entity_id, as_of}) whose entity has events in the window as of the row's {@code as_of}: the
     * point-in-time join of training sets. Rows without events have no row in the answer.
     */
    public static String valuesAtPoints(String table, String points, AggregateFeature f, Window w) {
        return query(f, w, ofPoints(points, matchingEvents(table, f.eventType(), f.filter(), f.value())));
    }

    /**
     * A profile field as its rule keeps it from the events known at each entity's t, one JSON row {@code {"key":
     * <entity id>, "value": ...}} per entity of {@code asOf} that has an event the rule applied (an entity without
     * one has no row: its field is absent, null).
     */
    public static String profileValuesAt(String table, ProfileFeature p, Map<String, Long> asOf) {
        return profileQuery(p, ofEntities(matchingEvents(table, p.eventType(), p.filter(), p.value()), asOf));
    }

    /** {@link #profileValuesAt} for each row of the points table, as {@link #valuesAtPoints} does for a feature. */
    public static String profileValuesAtPoints(String table, String points, ProfileFeature p) {
        return profileQuery(p, ofPoints(points, matchingEvents(table, p.eventType(), p.filter(), p.value())));
    }

    /** The rows a query groups by {@code key}, each with the time t it is computed as of. */
    private record Source(String key, String from, String t) {
    }

    /** The events of the entities of {@code asOf}, each with its own t, looked up with {@code transform}. */
    private static Source ofEntities(String events, Map<String, Long> asOf) {
        List<String> ids = asOf.keySet().stream().map(SqlWriter::quote).toList();
        String t = "toInt64(transform(entity_id, [" + String.join(", ", ids) + "], ["
                + asOf.values().stream().map(Object::toString).collect(Collectors.joining(", ")) + "], 0))";
        return new Source("entity_id", "(" + events + " AND entity_id IN (" + String.join(", ", ids) + "))", t);
    }

    /** The events of each row's entity, joined with the points table, as of the row's {@code as_of}. */
    private static Source ofPoints(String points, String events) {
        return new Source("row", points + " ALL INNER JOIN (" + events + ") AS e USING entity_id", "as_of");
    }

    /** The events of a type that pass the filter and have a value, the value as column v when there is one. */
    private static String matchingEvents(String table, String eventType, Expr filter, Expr value) {
        List<String> where = new ArrayList<>();
        where.add("event_type = " + SqlWriter.quote(eventType));
        if (filter != null) {
            where.add(SqlWriter.condition(filter));
        }
        String v = "";
        if (value != null) {
            where.add("isNotNull(" + SqlWriter.value(value) + ")");
            v = ", assumeNotNull(" + SqlWriter.value(value) + ") AS v";
        }
        return "SELECT entity_id, ts, " + ClickHouseEventTable.INGESTED_AT + ", event_id" + v + " FROM " + table + " FINAL WHERE " + String.join(" AND ", where);
    }

    /** The events known as of t: in event time up to t, and ingested by t. */
    private static String knownAt(String t) {
        return "ts <= " + t + " AND " + ClickHouseEventTable.INGESTED_AT + " <= " + t;
    }

    /** Aggregates the events of the source within the window and known as of its time t, per key. */
    private static String query(AggregateFeature f, Window w, Source source) {
        String window = knownAt(source.t());
        if (!w.isLifetime()) {
            long g = w.tileMs();
            window += " AND ts >= intDiv(" + source.t() + ", " + g + ") * " + g + " - " + w.length().toMillis();
        }
        if (f.aggregation() == Aggregation.LAST_N && f.distinct()) {
            return "SELECT key, arrayMap(x -> x.3, arraySlice(arrayReverseSort(groupArray((latest, toString(v), v))), 1, "
                    + f.n() + ")) AS value FROM (SELECT " + source.key() + " AS key, v, max(ts) AS latest FROM " + source.from()
                    + " WHERE " + window + " GROUP BY key, v) GROUP BY key FORMAT JSONEachRow";
        }
        return grouped(aggregate(f), source, window);
    }

    /**
     * A profile rule over all the events known at t: set the value of the latest by (ts, event_id), set_once of the
     * earliest (an id's String compares by its bytes, as {@code MongoProfileStore} orders them), inc the sum, max and
     * min the extremes.
     */
    private static String profileQuery(ProfileFeature p, Source source) {
        String rule = switch (p.rule()) {
            case SET -> "argMax(v, (ts, event_id))";
            case SET_ONCE -> "argMin(v, (ts, event_id))";
            case INC -> "sum(v)";
            case MAX -> "max(v)";
            case MIN -> "min(v)";
        };
        return grouped(rule, source, knownAt(source.t()));
    }

    private static String grouped(String aggregate, Source source, String where) {
        return "SELECT " + source.key() + " AS key, " + aggregate + " AS value FROM " + source.from() + " WHERE " + where
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
