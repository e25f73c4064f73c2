package dev.featurepipe.clickhouse;

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
 * as of time t an entity's value covers its events with {@code floor(t/g)*g - W <= ts <= t}. Each entity has its
 * own t (a training label's time, the moment of a skew check), looked up with {@code transform}, so one query
 * answers many entities at many instants. Valid on ClickHouse 18.16 and current versions: no window functions,
 * no ASOF JOIN, no CTEs, epoch-ms arithmetic instead of date functions.
 */
public final class FeatureSql {
    private FeatureSql() {
    }

    /**
     * A query returning one JSON row {@code {"entity_id": ..., "value": ...}} per entity of {@code asOf} that has
     * events in the window; an entity without any has no row (its value is 0 for count, sum and count_distinct,
     * else null).
     *
     * @param asOf the time t (epoch ms) of each entity
     */
    public static String valuesAt(String table, AggregateFeature f, Window w, Map<String, Long> asOf) {
        List<String> ids = new ArrayList<>(asOf.keySet());
        String t = "toInt64(transform(entity_id, [" + ids.stream().map(SqlWriter::quote).collect(Collectors.joining(", ")) + "], ["
                + ids.stream().map(id -> asOf.get(id).toString()).collect(Collectors.joining(", ")) + "], 0))";
        List<String> where = new ArrayList<>();
        where.add("event_type = " + SqlWriter.quote(f.eventType()));
        where.add("entity_id IN (" + ids.stream().map(SqlWriter::quote).collect(Collectors.joining(", ")) + ")");
        where.add("ts <= " + t);
        if (!w.isLifetime()) {
            long g = w.tileMs();
            where.add("ts >= intDiv(" + t + ", " + g + ") * " + g + " - " + w.length().toMillis());
        }
        if (f.filter() != null) {
            where.add(SqlWriter.condition(f.filter()));
        }
        String v = null;
        if (f.value() != null) {
            where.add("isNotNull(" + SqlWriter.value(f.value()) + ")");
            v = "assumeNotNull(" + SqlWriter.value(f.value()) + ")";
        }
        String from = " FROM " + table + " FINAL WHERE " + String.join(" AND ", where);
        if (f.aggregation() == Aggregation.LAST_N && f.distinct()) {
            return "SELECT entity_id, arrayMap(x -> x.3, arraySlice(arrayReverseSort(groupArray((t, toString(v), v))), 1, "
                    + f.n() + ")) AS value FROM (SELECT entity_id, " + v + " AS v, max(ts) AS t" + from
                    + " GROUP BY entity_id, v) GROUP BY entity_id FORMAT JSONEachRow";
        }
        return "SELECT entity_id, " + aggregate(f, v) + " AS value" + from + " GROUP BY entity_id FORMAT JSONEachRow";
    }

    private static String aggregate(AggregateFeature f, String v) {
        return switch (f.aggregation()) {
            case COUNT -> "count()";
            case SUM -> "sum(" + v + ")";
            case MIN -> "min(" + v + ")";
            case MAX -> "max(" + v + ")";
            case AVG -> "avg(" + v + ")";
            case COUNT_DISTINCT -> "uniqExact(" + v + ")";
            case LAST -> "argMax(" + v + ", (ts, event_id))";
            case FIRST_SEEN -> "min(ts)";
            case LAST_SEEN -> "max(ts)";
            case LAST_N -> "arrayMap(x -> x.3, arraySlice(arrayReverseSort(groupArray((ts, event_id, " + v + "))), 1, "
                    + f.n() + "))";
        };
    }
}
