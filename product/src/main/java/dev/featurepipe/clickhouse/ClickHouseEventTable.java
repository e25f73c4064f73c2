package dev.featurepipe.clickhouse;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.OfflineStore;
import dev.featurepipe.core.registry.FieldDef;
import dev.featurepipe.core.registry.Registry;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The raw events in ClickHouse: one typed column per registered field, event time as epoch ms, partitioned by
 * month, a ReplacingMergeTree whose key ends in the event id so a re-delivered event replaces itself. Rows are
 * sent as RowBinary, the input format that costs ClickHouse the least to parse.
 */
public final class ClickHouseEventTable implements OfflineStore {
    public static final String TABLE = "events";
    private static final Logger log = LoggerFactory.getLogger(ClickHouseEventTable.class);

    private final ClickHouseClient clickhouse;
    private final String database;
    private final Registry registry;

    public ClickHouseEventTable(ClickHouseClient server, String database, Registry registry) {
        this.clickhouse = server.withDatabase(database);
        this.database = database;
        this.registry = registry;
    }

    @Override
    public void ensureSchema() {
        clickhouse.withDatabase(null).execute("CREATE DATABASE IF NOT EXISTS " + database);
        List<String> columns = new ArrayList<>(List.of("event_id String", "event_type String", "entity_id String",
                "ts Int64"));
        registry.allFields().values().forEach(f -> columns.add(columnDef(f)));
        clickhouse.execute("CREATE TABLE IF NOT EXISTS " + TABLE + " (" + String.join(", ", columns) + ")"
                + " ENGINE = ReplacingMergeTree()"
                + " PARTITION BY toYYYYMM(toDateTime(intDiv(ts, 1000)))"
                + " ORDER BY (event_type, entity_id, event_id)");
        Set<String> existing = new HashSet<>(List.of(clickhouse.execute("SELECT name FROM system.columns WHERE database = '"
                + database + "' AND table = '" + TABLE + "' FORMAT TabSeparated").split("\n")));
        for (FieldDef f : registry.allFields().values()) {
            if (!existing.contains(f.name())) {
                log.info("clickhouse: adding column {} to {}.{}", f.name(), database, TABLE);
                clickhouse.execute("ALTER TABLE " + TABLE + " ADD COLUMN " + columnDef(f));
            }
        }
    }

    private static String columnDef(FieldDef f) {
        String type = switch (f.type()) {
            case STRING -> "String";
            case LONG -> "Int64";
            case DOUBLE -> "Float64";
            case BOOLEAN -> "UInt8";
            case DECIMAL -> "Decimal(" + FieldDef.MAX_DIGITS + ", " + f.scale() + ")";
        };
        return f.name() + " Nullable(" + type + ")";
    }

    @Override
    public void insert(List<Event> events) {
        List<FieldDef> fields = List.copyOf(registry.allFields().values());
        RowBinaryWriter rows = new RowBinaryWriter(events.size() * 160);
        for (Event e : events) {
            rows.string(e.id()).string(e.type()).string(e.entityId()).int64(e.ts());
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
        List<String> columns = new ArrayList<>(List.of("event_id", "event_type", "entity_id", "ts"));
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
