package dev.featurepipe.clickhouse;

import dev.featurepipe.core.EntityHash;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.OfflineStore;
import dev.featurepipe.core.expr.SqlWriter;
import dev.featurepipe.core.registry.FieldDef;
import dev.featurepipe.core.registry.Registry;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The raw events in ClickHouse: one typed column per registered field, event time as epoch ms, partitioned by
 * month, a ReplacingMergeTree whose key ends in the event id so a re-delivered event replaces itself. Each row
 * also holds its ingest time ({@value #INGESTED_AT}, when the log appended the event), so that a query as of t
 * takes only what was known at t. Rows are sent as RowBinary, the input format that costs ClickHouse the least to
 * parse, which writes a value's bytes whatever the column's type: so the stored columns are checked against the
 * registry's types before anything is written.
 *
 * <p>On a cluster ({@code FP_CLICKHOUSE_CLUSTER}) each node holds its part in {@value #LOCAL_TABLE}, and {@value
 * #TABLE} is a Distributed table in front of them, sharded by {@value #SHARDING_KEY}: an entity's rows, a re-delivered
 * copy of an event included, are all on one shard, so FINAL (per shard) and aggregations by entity are as exact as
 * on one server. Every read names {@value #TABLE}, so it reads the whole cluster. With replication, the local tables
 * are ReplicatedReplacingMergeTree, kept alike among the replicas of a shard through ZooKeeper.
 */
public final class ClickHouseEventTable implements OfflineStore {
    /** The table every query and INSERT names: on a cluster, the Distributed table in front of {@link #LOCAL_TABLE}. */
    public static final String TABLE = "events";
    /** On a cluster, each node's own part of the events. */
    public static final String LOCAL_TABLE = "events_local";
    /** Where an entity's rows go on a cluster; the same hash as {@link EntityHash}, so every row of an entity is on one shard. */
    public static final String SHARDING_KEY = "sipHash64(entity_id)";
    /** The column of the ingest time; rows written before it existed read their event time there. */
    public static final String INGESTED_AT = Event.INGESTED_AT;
    private static final Logger log = LoggerFactory.getLogger(ClickHouseEventTable.class);

    private final ClickHouseClient clickhouse;
    private final String database;
    private final Registry registry;
    private final String cluster;
    private final boolean replicated;

    /** The events on one server. */
    public ClickHouseEventTable(ClickHouseClient server, String database, Registry registry) {
        this(server, database, registry, "", false);
    }

    /**
     * @param cluster the cluster of the servers' remote_servers that holds the events, or empty for the one server
     *                {@code server} names. On a cluster, an INSERT returns once each row is on its shard
     *                ({@code insert_distributed_sync=1}), so an acknowledged batch is stored.
     * @param replicated  whether the local tables of the cluster are replicated among the replicas of each shard
     */
    public ClickHouseEventTable(ClickHouseClient server, String database, Registry registry, String cluster,
                                boolean replicated) {
        if (replicated && cluster.isEmpty()) {
            throw new FeaturepipeException("FP_CLICKHOUSE_REPLICATED=true replicates the shards of a cluster; name it in"
                    + " FP_CLICKHOUSE_CLUSTER");
        }
        ClickHouseClient client = server.withDatabase(database);
        this.clickhouse = cluster.isEmpty() ? client : client.withInsertSetting("insert_distributed_sync", "1");
        this.database = database;
        this.registry = registry;
        this.cluster = cluster;
        this.replicated = replicated;
    }

    /** Every column the registry asks for, with its type and, for one added to a table holding rows, its default. */
    private Map<String, String> columns() {
        Map<String, String> columns = new LinkedHashMap<>();
        columns.put("event_id", "String");
        columns.put("event_type", "String");
        columns.put("entity_id", "String");
        columns.put("ts", "Int64");
        columns.put(INGESTED_AT, "Int64");
        registry.allFields().values().forEach(f -> columns.put(f.name(), columnType(f)));
        return columns;
    }

    private static String definition(String column, String type) {
        return column + " " + type + (column.equals(INGESTED_AT) ? " DEFAULT ts" : "");
    }

    /**
     * Creates the table, or checks the existing one: a column of another type than the registry's stops the
     * start, naming each such column and what to do, before any column is added; missing columns are then added.
     * On a cluster, the same on every node, for the local table and for the Distributed table in front of it.
     */
    @Override
    public void ensureSchema() {
        String layout = " PARTITION BY toYYYYMM(toDateTime(intDiv(ts, 1000))) ORDER BY (event_type, entity_id, event_id)";
        List<Runnable> additions = new ArrayList<>();
        if (cluster.isEmpty()) {
            additions.add(createOrCheck(clickhouse, TABLE, "ReplacingMergeTree()" + layout));
        } else {
            String local = (replicated ? "ReplicatedReplacingMergeTree(" + SqlWriter.quote("/clickhouse/tables/{shard}/"
                    + database + "/" + LOCAL_TABLE) + ", '{replica}')" : "ReplacingMergeTree()") + layout;
            String distributed = "Distributed(" + SqlWriter.quote(cluster) + ", " + SqlWriter.quote(database) + ", "
                    + SqlWriter.quote(LOCAL_TABLE) + ", " + SHARDING_KEY + ")";
            for (ClickHouseCluster.Node node : ClickHouseCluster.of(clickhouse, cluster).nodes()) {
                Runnable addColumns = createOrCheck(node.client(), LOCAL_TABLE, local);
                if (!replicated || node.replica() == 1) { // an ALTER of a replicated table reaches the other replicas
                    additions.add(addColumns);
                }
                additions.add(createOrCheck(node.client(), TABLE, distributed));
            }
        }
        additions.forEach(Runnable::run);
    }

    /** Creates the table or checks its columns; returns what adds the missing ones. */
    private Runnable createOrCheck(ClickHouseClient server, String table, String engine) {
        String name = database + "." + table + (cluster.isEmpty() ? "" : " at " + server.base());
        server.withDatabase(null).execute("CREATE DATABASE IF NOT EXISTS " + database);
        Map<String, String> wanted = columns();
        List<String> definitions = new ArrayList<>();
        wanted.forEach((column, type) -> definitions.add(definition(column, type)));
        server.execute("CREATE TABLE IF NOT EXISTS " + table + " (" + String.join(", ", definitions) + ") ENGINE = " + engine);
        String of = " WHERE database = '" + database + "' AND ";
        if (table.equals(TABLE) && !cluster.isEmpty()) {
            String stored = server.execute("SELECT engine FROM system.tables" + of + "name = '" + table
                    + "' FORMAT TabSeparated").strip();
            if (!stored.equals("Distributed")) {
                throw new FeaturepipeException(name + " is a " + stored + " table, but with FP_CLICKHOUSE_CLUSTER=" + cluster
                        + " it is the Distributed table in front of " + LOCAL_TABLE + " on every node. Rename it (RENAME"
                        + " TABLE " + database + "." + table + " TO " + database + ".events_single), start again, then copy"
                        + " its rows through the Distributed table, which puts each on its shard (INSERT INTO " + database
                        + "." + table + " SELECT * FROM " + database + ".events_single)");
            }
        }
        Map<String, String> existing = new HashMap<>();
        server.execute("SELECT name, type FROM system.columns" + of + "table = '" + table + "' FORMAT TabSeparated")
                .lines().filter(l -> !l.isBlank())
                .forEach(l -> existing.put(l.substring(0, l.indexOf('\t')), l.substring(l.indexOf('\t') + 1)));
        List<String> mismatches = new ArrayList<>();
        wanted.forEach((column, type) -> {
            String stored = existing.get(column);
            if (stored != null && !stored.equals(type)) {
                mismatches.add(column + " is " + stored + " in ClickHouse but " + type + " in the registry");
            }
        });
        if (!mismatches.isEmpty()) {
            throw new FeaturepipeException("the columns of " + name + " do not match the registry, and"
                    + " rows of the registry's types written into them would be stored wrong:\n  "
                    + String.join("\n  ", mismatches) + "\nEither give each such field a new name in the registry (the"
                    + " old column keeps the old rows), or convert the stored rows, e.g. ALTER TABLE " + database + "."
                    + table + " MODIFY COLUMN <column> <registry's type> (check first that every stored value converts),"
                    + " or drop the table to start from nothing.");
        }
        return () -> wanted.forEach((column, type) -> {
            if (!existing.containsKey(column)) {
                log.info("clickhouse: adding column {} to {}", column, name);
                server.execute("ALTER TABLE " + table + " ADD COLUMN " + definition(column, type));
            }
        });
    }

    private static String columnType(FieldDef f) {
        String type = switch (f.type()) {
            case STRING -> "String";
            case LONG -> "Int64";
            case DOUBLE -> "Float64";
            case BOOLEAN -> "UInt8";
            case DECIMAL -> "Decimal(" + FieldDef.MAX_DIGITS + ", " + f.scale() + ")";
        };
        return "Nullable(" + type + ")";
    }

    @Override
    public void insert(List<LoggedEvent> events) {
        List<FieldDef> fields = List.copyOf(registry.allFields().values());
        RowBinaryWriter rows = new RowBinaryWriter(events.size() * 168);
        for (LoggedEvent logged : events) {
            Event e = logged.event();
            rows.string(e.id()).string(e.type()).string(e.entityId()).int64(e.ts()).int64(logged.loggedAt());
            for (FieldDef f : fields) {
                Object value = e.field(f.name());
                rows.nullable(value != null);
                if (value != null) {
                    switch (f.type()) {
                        case STRING -> rows.string((String) value);
                        case LONG -> rows.int64((Long) value);
                        case DOUBLE -> rows.float64((Double) value);
                        case BOOLEAN -> rows.uint8((Boolean) value ? 1 : 0);
                        case DECIMAL -> rows.int64(((BigDecimal) value).setScale(f.scale()).unscaledValue().longValueExact());
                    }
                }
            }
        }
        List<String> columns = new ArrayList<>(List.of("event_id", "event_type", "entity_id", "ts", INGESTED_AT));
        fields.forEach(f -> columns.add(f.name()));
        clickhouse.insert("INSERT INTO " + TABLE + " (" + String.join(", ", columns) + ") FORMAT RowBinary", rows.toByteArray());
    }

    @Override
    public long countEvents() {
        return Long.parseLong(clickhouse.execute("SELECT count() FROM " + TABLE + " FINAL FORMAT TabSeparated").trim());
    }

    /** Runs a query against the events' database (for tools and tests). */
    public String query(String sql) {
        return clickhouse.execute(sql);
    }
}
