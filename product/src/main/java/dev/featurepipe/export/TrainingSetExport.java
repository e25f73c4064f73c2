package dev.featurepipe.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.csv.CsvGenerator;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.featurepipe.clickhouse.BatchSnapshots;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.clickhouse.FeatureSql;
import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.verify.SkewCheck;
import java.io.IOException;
import java.math.BigDecimal;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.LongConsumer;

/**
 * Point-in-time training sets: for each label row (an entity id, a time, label columns), every requested window
 * and lifetime feature and profile field as of that row's time, computed by ClickHouse from the raw events, so no
 * value uses an event later than the label; and every requested batch feature as the latest run at or before that
 * time had computed it (see {@link BatchSnapshots}). The labels go into a temporary ClickHouse table that one query
 * per feature joins with the events or the batch values.
 */
public final class TrainingSetExport {
    /** What an export wrote. */
    public record Summary(int rows, int features, double seconds) {
    }

    private static final int INSERT_CHUNK = 50_000;
    private static final int MAX_REPORTED_ERRORS = 10;

    private final Registry registry;
    private final ClickHouseClient clickhouse;
    private final ObjectMapper json;

    /** @param clickhouse a client on the database of the events table */
    public TrainingSetExport(Registry registry, ClickHouseClient clickhouse, ObjectMapper json) {
        this.registry = registry;
        this.clickhouse = clickhouse;
        this.json = json;
    }

    /** One label row: the entity, the time, and the label columns as given. */
    private record Label(String entityId, long asOf, List<String> columns) {
    }

    /**
     * @param labels CSV with a header naming the entity's key column, {@code ts} (epoch ms or ISO-8601) and any
     *               label columns, which are copied to the output
     * @param progress told about each feature done
     */
    public Summary export(Path labels, String entity, List<String> names, Path out, LongConsumer progress) {
        long started = System.nanoTime();
        String key = registry.entity(entity).orElseThrow(() -> new FeaturepipeException("unknown entity '" + entity
                + "' (known: " + registry.entityNames() + ")")).keyField();
        List<ServedFeature> features = features(entity, names);
        List<String> labelColumns = new ArrayList<>();
        List<Label> rows = readLabels(labels, key, labelColumns);
        String points = "points_" + UUID.randomUUID().toString().replace("-", "");
        clickhouse.execute("CREATE TABLE " + points + " (row UInt32, entity_id String, as_of Int64) ENGINE = Memory");
        try {
            insertPoints(points, rows);
            List<Map<Integer, Object>> values = new ArrayList<>();
            for (ServedFeature f : features) {
                values.add(valuesAtPoints(points, f));
                progress.accept(1);
            }
            write(out, key, labelColumns, features, rows, values);
        } finally {
            clickhouse.execute("DROP TABLE IF EXISTS " + points);
        }
        return new Summary(rows.size(), features.size(), (System.nanoTime() - started) / 1e9);
    }

    /** The named features (all of them when none is named). */
    private List<ServedFeature> features(String entity, List<String> names) {
        Map<String, ServedFeature> served = registry.served(entity);
        List<ServedFeature> features = new ArrayList<>();
        for (String name : names.isEmpty() ? List.copyOf(served.keySet()) : names) {
            ServedFeature f = served.get(name);
            if (f == null) {
                throw new FeaturepipeException("unknown feature '" + name + "' of '" + entity + "' (features: " + served.keySet() + ")");
            }
            features.add(f);
        }
        return features;
    }

    private List<Label> readLabels(Path file, String key, List<String> labelColumns) {
        List<Label> rows = new ArrayList<>();
        List<String> errors = new ArrayList<>();
        CsvMapper csv = new CsvMapper();
        try (MappingIterator<Map<String, String>> it = csv.readerForMapOf(String.class)
                .with(CsvSchema.emptySchema().withHeader()).readValues(file.toFile())) {
            CsvSchema header = (CsvSchema) it.getParserSchema();
            List<String> columns = new ArrayList<>();
            header.forEach(c -> columns.add(c.getName()));
            if (!columns.contains(key) || !columns.contains("ts")) {
                throw new FeaturepipeException(file + ": the header must name '" + key + "' and 'ts'; it has " + columns);
            }
            columns.stream().filter(c -> !c.equals(key) && !c.equals("ts")).forEach(labelColumns::add);
            for (int line = 2; it.hasNext(); line++) {
                Map<String, String> row = it.next();
                String id = row.getOrDefault(key, "").trim();
                Long asOf = time(row.getOrDefault("ts", "").trim());
                if (id.isEmpty() || asOf == null) {
                    if (errors.size() < MAX_REPORTED_ERRORS) {
                        errors.add("line " + line + ": " + (id.isEmpty() ? "no " + key : "ts '" + row.get("ts")
                                + "' is neither epoch ms nor ISO-8601 with an offset"));
                    }
                    continue;
                }
                rows.add(new Label(id, asOf, labelColumns.stream().map(c -> row.getOrDefault(c, "")).toList()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading the labels " + file, e);
        }
        if (!errors.isEmpty()) {
            throw new FeaturepipeException(file + ": invalid label rows:\n  " + String.join("\n  ", errors));
        }
        return rows;
    }

    private static Long time(String text) {
        try {
            return text.matches("\\d+") ? Long.parseLong(text) : Instant.parse(text).toEpochMilli();
        } catch (DateTimeParseException | NumberFormatException e) {
            return null;
        }
    }

    private void insertPoints(String points, List<Label> rows) {
        for (int from = 0; from < rows.size(); from += INSERT_CHUNK) {
            StringBuilder body = new StringBuilder();
            for (int i = from; i < Math.min(rows.size(), from + INSERT_CHUNK); i++) {
                body.append(json.createObjectNode().put("row", i).put("entity_id", rows.get(i).entityId())
                        .put("as_of", rows.get(i).asOf())).append('\n');
            }
            clickhouse.insertJsonRows(points, body.toString().getBytes(StandardCharsets.UTF_8));
        }
    }

    /** A feature's value for each label row that has one: its SQL joined with the points table. */
    private Map<Integer, Object> valuesAtPoints(String points, ServedFeature f) {
        String table = ClickHouseEventTable.TABLE;
        if (f instanceof ServedFeature.WindowValue w) {
            return valuesAtPoints(FeatureSql.valuesAtPoints(table, points, w.feature(), w.window()),
                    value -> SkewCheck.typed(w.feature(), value));
        }
        if (f instanceof ServedFeature.ProfileValue p) {
            return valuesAtPoints(FeatureSql.profileValuesAtPoints(table, points, p.feature()),
                    value -> SkewCheck.typed(p.feature(), value));
        }
        return valuesAtPoints(BatchSnapshots.valuesAtPoints(points, ((ServedFeature.BatchValue) f).feature()), JsonNode::asText);
    }

    /** Runs a query answering {@code {"key": <row>, "value": ...}} per label row that has a value. */
    private Map<Integer, Object> valuesAtPoints(String sql, Function<JsonNode, Object> typed) {
        Map<Integer, Object> values = new HashMap<>();
        for (String line : clickhouse.execute(sql).split("\n")) {
            if (!line.isBlank()) {
                try {
                    JsonNode row = json.readTree(line);
                    values.put(row.get("key").asInt(), typed.apply(row.get("value")));
                } catch (IOException e) {
                    throw new UncheckedIOException("ClickHouse answered a row that is not JSON: " + line, e);
                }
            }
        }
        return values;
    }

    private void write(Path out, String key, List<String> labelColumns, List<ServedFeature> features,
                       List<Label> rows, List<Map<Integer, Object>> values) {
        CsvSchema.Builder schema = CsvSchema.builder().addColumn(key).addColumn("ts");
        labelColumns.forEach(schema::addColumn);
        features.forEach(f -> schema.addColumn(f.name()));
        try (Writer writer = Files.newBufferedWriter(out);
             CsvGenerator csv = new CsvMapper().getFactory().createGenerator(writer)) {
            csv.setSchema(schema.build().withHeader());
            for (int i = 0; i < rows.size(); i++) {
                Label label = rows.get(i);
                csv.writeStartArray();
                csv.writeString(label.entityId());
                csv.writeNumber(label.asOf());
                for (String c : label.columns()) {
                    csv.writeString(c);
                }
                for (int f = 0; f < features.size(); f++) {
                    Object v = values.get(f).getOrDefault(i, features.get(f) instanceof ServedFeature.WindowValue w
                            ? w.feature().emptyValue() : null);
                    csv.writeString(v == null ? "" : v instanceof List<?> ? json.writeValueAsString(v)
                            : v instanceof BigDecimal d ? d.toPlainString() : v.toString());
                }
                csv.writeEndArray();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + out, e);
        }
    }
}
