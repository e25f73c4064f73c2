package dev.featurepipe.clickhouse;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.featurepipe.core.BatchValueStore;
import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.expr.SqlWriter;
import dev.featurepipe.core.registry.BatchFeature;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * The history of batch feature values in ClickHouse. A run computes a feature's SQL as of its time t into a table
 * of its own, then appends to {@code batch_values} only what changed since the last recorded run (new and changed
 * values, and removals of entities the SQL no longer returns), each row stamped with t. A run counts once it is
 * recorded in {@code batch_runs}, after its values reached the online store; rows of a run that failed before are
 * ignored. So the value of a feature for an entity as of any time is its latest row of a recorded run at or before
 * that time: what serving could have known then.
 */
public final class BatchSnapshots {
    static final String VALUES = "batch_values";
    static final String RUNS = "batch_runs";

    private final ClickHouseClient clickhouse;
    private final String database;
    private final JsonFactory json = new JsonFactory();

    /** One computation of a feature, not yet recorded: its table, time, and how many entities it has and changed. */
    public record Run(BatchFeature feature, String table, long computedAt, long entities, long changed, long removed) {
    }

    public BatchSnapshots(ClickHouseClient server, String database) {
        this.clickhouse = server.withDatabase(database);
        this.database = database;
    }

    public void ensureSchema() {
        clickhouse.withDatabase(null).execute("CREATE DATABASE IF NOT EXISTS " + database);
        clickhouse.execute("CREATE TABLE IF NOT EXISTS " + VALUES + " (feature String, entity_id String, computed_at Int64,"
                + " present UInt8, value String) ENGINE = MergeTree()"
                + " PARTITION BY toYYYYMM(toDateTime(intDiv(computed_at, 1000)))"
                + " ORDER BY (feature, entity_id, computed_at)");
        clickhouse.execute("CREATE TABLE IF NOT EXISTS " + RUNS + " (feature String, computed_at Int64, mode String,"
                + " entities UInt64, changed UInt64, seconds Float64) ENGINE = MergeTree() ORDER BY (feature, computed_at)");
    }

    /**
     * Computes the feature as of {@code asOf} and appends its changes to {@code batch_values}, unrecorded.
     *
     * @throws FeaturepipeException when the SQL fails or returns an entity twice
     */
    public Run compute(BatchFeature f, long asOf) {
        String table = "batch_run_" + UUID.randomUUID().toString().replace("-", "");
        clickhouse.execute("CREATE TABLE " + table + " (entity_id String, value String) ENGINE = Memory");
        try {
            clickhouse.execute("INSERT INTO " + table + " (entity_id, value) SELECT toString(entity_id), "
                    + converted(f) + " FROM (" + f.sqlAt(database + "." + ClickHouseEventTable.TABLE, asOf)
                    + ") WHERE isNotNull(value)");
            String[] counts = clickhouse.execute("SELECT count(), uniqExact(entity_id) FROM " + table
                    + " FORMAT TabSeparated").strip().split("\t");
            long rows = Long.parseLong(counts[0]);
            if (rows != Long.parseLong(counts[1])) {
                throw new FeaturepipeException("batch feature '" + f.name() + "': its sql returned " + rows + " rows for "
                        + counts[1] + " entities; it must return one row per entity_id");
            }
            String name = SqlWriter.quote(f.name());
            String state = "SELECT entity_id, s.1 AS known, s.2 AS old FROM (SELECT entity_id, argMax((present, value),"
                    + " computed_at) AS s FROM " + VALUES + " WHERE feature = " + name + " AND computed_at IN (SELECT"
                    + " computed_at FROM " + RUNS + " WHERE feature = " + name + ") GROUP BY entity_id)";
            String columns = "INSERT INTO " + VALUES + " (feature, entity_id, computed_at, present, value) SELECT " + name
                    + ", entity_id, " + asOf;
            clickhouse.execute(columns + ", 1, value FROM " + table + " ANY LEFT JOIN (" + state + ") AS recorded USING entity_id"
                    + " WHERE known = 0 OR old != value");
            clickhouse.execute(columns + ", 0, '' FROM (SELECT entity_id FROM (" + state + ") WHERE known = 1) AS recorded"
                    + " ANY LEFT JOIN (SELECT entity_id, toUInt8(1) AS fresh FROM " + table + ") AS computed USING entity_id"
                    + " WHERE fresh = 0");
            String[] changes = clickhouse.execute("SELECT countIf(present = 1), countIf(present = 0) FROM " + VALUES
                    + " WHERE feature = " + name + " AND computed_at = " + asOf + " FORMAT TabSeparated").strip().split("\t");
            return new Run(f, table, asOf, rows, Long.parseLong(changes[0]), Long.parseLong(changes[1]));
        } catch (RuntimeException e) {
            drop(table);
            throw e;
        }
    }

    /** Every value of the run (full) or only its changes, then its removals, to {@code rows}. */
    public void read(Run run, boolean full, Consumer<BatchValueStore.Write> rows) {
        String ofRun = " FROM " + VALUES + " WHERE feature = " + SqlWriter.quote(run.feature().name())
                + " AND computed_at = " + run.computedAt();
        String sql = full
                ? "SELECT entity_id, toUInt8(1) AS present, value FROM " + run.table()
                        + " UNION ALL SELECT entity_id, present, value" + ofRun + " AND present = 0"
                : "SELECT entity_id, present, value" + ofRun;
        clickhouse.stream(sql + " FORMAT JSONEachRow", body -> {
            try (JsonParser in = json.createParser(body)) {
                while (in.nextToken() == JsonToken.START_OBJECT) {
                    String id = null;
                    String value = null;
                    boolean present = false;
                    for (String field = in.nextFieldName(); field != null; field = in.nextFieldName()) {
                        in.nextToken();
                        switch (field) {
                            case "entity_id" -> id = in.getText();
                            case "present" -> present = in.getIntValue() == 1;
                            default -> value = in.getText();
                        }
                    }
                    rows.accept(new BatchValueStore.Write(id, present ? value : null));
                }
            }
        });
    }

    /** Makes the run count: its values are now those of the feature as of its time. */
    public void record(Run run, boolean full, double seconds) {
        clickhouse.execute("INSERT INTO " + RUNS + " (feature, computed_at, mode, entities, changed, seconds) VALUES ("
                + SqlWriter.quote(run.feature().name()) + ", " + run.computedAt() + ", " + SqlWriter.quote(full ? "full" : "incremental")
                + ", " + run.entities() + ", " + (run.changed() + run.removed()) + ", " + seconds + ")");
    }

    public void drop(Run run) {
        drop(run.table());
    }

    private void drop(String table) {
        clickhouse.execute("DROP TABLE IF EXISTS " + table);
    }

    /** The time of the feature's latest recorded run, if any. */
    public OptionalLong lastRun(String feature) {
        String last = clickhouse.execute("SELECT count(), max(computed_at) FROM " + RUNS + " WHERE feature = "
                + SqlWriter.quote(feature) + " FORMAT TabSeparated").strip();
        String[] parts = last.split("\t");
        return parts[0].equals("0") ? OptionalLong.empty() : OptionalLong.of(Long.parseLong(parts[1]));
    }

    /**
     * A query returning one JSON row {@code {"key": <row>, "value": "<text>"}} per row of the points table (columns
     * {@code row, entity_id, as_of}) whose entity had a value of the feature as of the row's time.
     */
    public static String valuesAtPoints(String points, BatchFeature f) {
        String name = SqlWriter.quote(f.name());
        return "SELECT key, s.2 AS value FROM (SELECT row AS key, argMax((present, value), computed_at) AS s FROM " + points
                + " ALL INNER JOIN (SELECT entity_id, computed_at, present, value FROM " + VALUES + " WHERE feature = " + name
                + " AND computed_at IN (SELECT computed_at FROM " + RUNS + " WHERE feature = " + name + ")) AS recorded USING entity_id"
                + " WHERE computed_at <= as_of GROUP BY key) WHERE s.1 = 1 FORMAT JSONEachRow";
    }

    /** The SQL's value as text, through the feature's type, so a value of another type fails the run. */
    private static String converted(BatchFeature f) {
        String v = "assumeNotNull(value)";
        return switch (f.type()) {
            case STRING -> "toString(" + v + ")";
            case LONG -> "toString(toInt64(" + v + "))";
            case DOUBLE -> "toString(toFloat64(" + v + "))";
            case BOOLEAN -> "toString(toUInt8(" + v + "))";
            case DECIMAL -> throw new IllegalArgumentException("a batch feature is not decimal (the registry refuses it)");
        };
    }
}
