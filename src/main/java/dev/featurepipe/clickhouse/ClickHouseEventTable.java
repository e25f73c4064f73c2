package dev.featurepipe.clickhouse;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.io.SerializedString;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.OfflineStore;
import dev.featurepipe.core.registry.FieldDef;
import dev.featurepipe.core.registry.Registry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The raw events in ClickHouse: one typed column per registered field, event time as epoch ms, partitioned by
 * month, a ReplacingMergeTree whose key ends in the event id so a re-delivered event replaces itself.
 */
public final class ClickHouseEventTable implements OfflineStore {
    public static final String TABLE = "events";
    private static final Logger log = LoggerFactory.getLogger(ClickHouseEventTable.class);

    private final ClickHouseClient clickhouse;
    private final String database;
    private final Registry registry;
    private final ObjectMapper json;

    public ClickHouseEventTable(ClickHouseClient server, String database, Registry registry, ObjectMapper json) {
        this.clickhouse = server.withDatabase(database);
        this.database = database;
        this.registry = registry;
        this.json = json;
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
        };
        return f.name() + " Nullable(" + type + ")";
    }

    @Override
    public void insert(List<Event> events) {
        ByteArrayOutputStream rows = new ByteArrayOutputStream(events.size() * 256);
        try (JsonGenerator out = json.getFactory().createGenerator(rows)) {
            out.setRootValueSeparator(new SerializedString("\n"));
            for (Event e : events) {
                out.writeStartObject();
                out.writeStringField("event_id", e.id());
                out.writeStringField("event_type", e.type());
                out.writeStringField("entity_id", e.entityId());
                out.writeNumberField("ts", e.ts());
                for (Map.Entry<String, Object> field : e.fields().entrySet()) {
                    out.writeFieldName(field.getKey());
                    writeValue(out, field.getValue());
                }
                out.writeEndObject();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e); // writing to memory
        }
        clickhouse.insertJsonRows(TABLE, rows.toByteArray());
    }

    private static void writeValue(JsonGenerator out, Object value) throws IOException {
        if (value instanceof String s) {
            out.writeString(s);
        } else if (value instanceof Long l) {
            out.writeNumber(l);
        } else if (value instanceof Double d) {
            out.writeNumber(d);
        } else {
            out.writeNumber(Boolean.TRUE.equals(value) ? 1 : 0);
        }
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
