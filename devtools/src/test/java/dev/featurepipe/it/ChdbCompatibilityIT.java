package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.featurepipe.clickhouse.BatchSnapshots;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.clickhouse.FeatureSql;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.NumberRule;
import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.expr.SqlWriter;
import dev.featurepipe.core.registry.BatchFeature;
import dev.featurepipe.core.registry.ProfileRule;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.demo.RetailEvents;
import dev.featurepipe.demo.RetailFile;
import dev.featurepipe.demo.RetailRow;
import dev.featurepipe.export.TrainingSetExport;
import dev.featurepipe.ingest.EventValidator;
import dev.featurepipe.verify.SkewCheck;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The product's ClickHouse SQL answers the same on a current ClickHouse (26.x, as chDB) as on the 18.16 test
 * server, for the same events: the tables it creates (engines, keys, column types), the rows its RowBinary insert
 * writes (read back through FINAL), every window and lifetime feature's and profile field's {@link FeatureSql} as of
 * many instants, each batch feature's runs through {@link BatchSnapshots} (values, changes, removals, or the same
 * failure), and {@link TrainingSetExport}'s file. All SQL comes from the product's own classes, so a change to it is
 * checked as it is made. Everything compares exactly (decimals by value) but a feature that adds up doubles (a sum
 * or mean of a double, a variance or standard deviation, a profile's inc of a double): 26.x may add in another order, so those compare to a relative
 * {@value #DOUBLE_TOLERANCE}, the skew check's tolerance.
 */
@ExtendWith(TestServices.class)
@Timeout(900)
class ChdbCompatibilityIT {
    private static final Path RETAIL = Path.of("../../shared/datasets/online-retail/online-retail.csv.gz");
    private static final long HOUR = 3_600_000;
    private static final long NOW = Instant.parse("2026-07-01T12:00:00Z").toEpochMilli();
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
    static final double DOUBLE_TOLERANCE = 1e-9;
    /** FeatureSql is asked for at most this many instants per entity; the training set takes every label. */
    private static final int ROUNDS = 3;
    private static final ClickHouseClient REFERENCE = new ClickHouseClient(TestServices.CLICKHOUSE, null);

    private static Chdb chdb;
    private static ClickHouseClient current;
    private static double largestRelativeDifference;

    @TempDir
    Path dir;

    /** The events, sent in batches, and the times (per entity, of label rows) the features are asked for. */
    private record Dataset(Registry registry, List<List<Event>> batches, List<Label> labels, List<Long> batchTimes) {
    }

    private record Label(String entity, String id, long t) {
    }

    /** A value of a feature that adds up doubles, equal to another within {@link #DOUBLE_TOLERANCE}. */
    private record Summed(double value) {
    }

    @BeforeAll
    static void startChdb() throws Exception {
        chdb = Chdb.start(Path.of("target/chdb").toAbsolutePath());
        current = new ClickHouseClient(chdb.url(), null);
    }

    @AfterAll
    static void stopChdb() throws Exception {
        if (chdb != null) {
            chdb.close();
        }
    }

    @Test
    void theRetailRegistryAnswersTheSameOnTheRealData() throws Exception {
        Dataset retail = retail();
        assertThat(differences(retail, retail)).isEmpty();
    }

    @Test
    void everyAggregationAnswersTheSame() throws Exception {
        Dataset generated = generated(60, 11);
        assertThat(differences(generated, generated)).isEmpty();
    }

    @Test
    void batchFeaturesOfEveryTypeAnswerTheSame() throws Exception {
        Dataset orders = orders();
        assertThat(differences(orders, orders)).isEmpty();
    }

    /** The comparison can fail: one event more on the current version shows in the count, features and files. */
    @Test
    void oneEventMoreIsADifference() throws Exception {
        Dataset reference = generated(10, 5);
        Dataset more = generated(10, 5);
        Event last = more.batches().get(0).get(0);
        more.batches().add(List.of(new Event("one-more", last.type(), last.entityId(), last.ts(), last.fields())));
        List<String> found = differences(reference, more);
        assertThat(found).anyMatch(d -> d.startsWith("count of events:"));
        assertThat(found).anyMatch(d -> d.startsWith("n_lifetime "));
        assertThat(found).anyMatch(d -> d.startsWith("training set of user:"));
        assertThat(found).anyMatch(d -> d.startsWith("rows of events:"));
    }

    /** Runs everything on 18.16 with the first data set and on chDB with the second; what answered differently. */
    private List<String> differences(Dataset onReference, Dataset onCurrent) throws Exception {
        String database = "compat_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        long started = System.nanoTime();
        Map<String, Object> reference = answers(REFERENCE, database, onReference, dir.resolve("reference"));
        long between = System.nanoTime();
        Map<String, Object> answers = answers(current, database, onCurrent, dir.resolve("current"));
        largestRelativeDifference = 0;
        List<String> differences = new ArrayList<>();
        Set<String> asked = new LinkedHashSet<>(reference.keySet());
        asked.addAll(answers.keySet());
        for (String question : asked) {
            String difference = difference(reference.get(question), answers.get(question));
            if (difference != null) {
                differences.add(question + ": " + difference);
            }
        }
        System.out.printf("chdb: %d answers compared, %d differ, doubles at most %.1e apart (18.16 %.1f s, chDB %s %.1f s)%n",
                asked.size(), differences.size(), largestRelativeDifference, (between - started) / 1e9, version(current),
                (System.nanoTime() - between) / 1e9);
        differences.stream().limit(20).forEach(d -> System.out.println("  " + d));
        return differences;
    }

    /**
     * What the product's SQL answers on one server, question by question: as text, or as the product reads it
     * (maps, lists and typed values).
     */
    private static Map<String, Object> answers(ClickHouseClient server, String database, Dataset data, Path dir) throws IOException {
        Files.createDirectories(dir);
        Registry registry = data.registry();
        Map<String, Object> answers = new LinkedHashMap<>();
        ClickHouseEventTable events = new ClickHouseEventTable(server, database, registry);
        BatchSnapshots snapshots = new BatchSnapshots(server, database);
        try {
            events.ensureSchema();
            events.ensureSchema(); // as at every later start
            snapshots.ensureSchema();
            data.batches().forEach(batch -> events.insert(arrived(batch)));
            answers.put("count of events", Long.toString(events.countEvents()));
            for (String entity : registry.entityNames()) {
                List<List<Label>> rounds = rounds(data.labels(), entity);
                for (ServedFeature f : registry.served(entity).values()) {
                    for (int r = 0; r < Math.min(ROUNDS, rounds.size()); r++) {
                        Map<String, Long> asOf = new LinkedHashMap<>();
                        rounds.get(r).forEach(l -> asOf.put(l.id(), l.t()));
                        if (f instanceof ServedFeature.WindowValue w) {
                            answers.put(w.name() + " as of round " + r, values(events.query(
                                    FeatureSql.valuesAt(ClickHouseEventTable.TABLE, w.feature(), w.window(), asOf)), w,
                                    node -> SkewCheck.typed(w.feature(), node)));
                        } else if (f instanceof ServedFeature.ProfileValue p) {
                            answers.put(p.name() + " as of round " + r, values(events.query(
                                    FeatureSql.profileValuesAt(ClickHouseEventTable.TABLE, p.feature(), asOf)), p,
                                    node -> SkewCheck.typed(p.feature(), node)));
                        }
                    }
                }
            }
            for (BatchFeature f : registry.batchFeatures()) {
                for (long t : data.batchTimes()) {
                    answers.put("batch run of " + f.name() + " at " + t, run(snapshots, f, t, t == data.batchTimes().get(0)));
                }
            }
            for (String entity : registry.entityNames()) {
                answers.put("training set of " + entity, trainingSet(registry, server.withDatabase(database), entity,
                        data.labels(), dir));
            }
            answers.putAll(tables(server, database));
        } finally {
            server.execute("DROP DATABASE IF EXISTS " + database);
        }
        return answers;
    }

    /** The labels of an entity in rounds of one time per id, as one FeatureSql query takes them. */
    private static List<List<Label>> rounds(List<Label> labels, String entity) {
        List<List<Label>> rounds = new ArrayList<>();
        Map<String, Integer> seen = new TreeMap<>();
        for (Label l : labels) {
            if (l.entity().equals(entity)) {
                int r = seen.merge(l.id(), 1, Integer::sum) - 1;
                if (r == rounds.size()) {
                    rounds.add(new ArrayList<>());
                }
                rounds.get(r).add(l);
            }
        }
        return rounds;
    }

    /** A FeatureSql answer as the product reads it (typed as served), by entity. */
    private static Map<String, Object> values(String answer, ServedFeature f, Function<JsonNode, Object> typed) throws IOException {
        Map<String, Object> values = new TreeMap<>();
        for (String line : answer.split("\n")) {
            if (!line.isBlank()) {
                JsonNode row = JSON.readTree(line);
                Object value = typed.apply(row.get("value"));
                values.put(row.get("key").asText(), addsUpDoubles(f) ? new Summed((Double) value) : value);
            }
        }
        return values;
    }

    /** One batch run, its values read in full and as changes, then recorded; or the kind of its failure. */
    private static String run(BatchSnapshots snapshots, BatchFeature f, long t, boolean full) {
        BatchSnapshots.Run run;
        try {
            run = snapshots.compute(f, t);
        } catch (RuntimeException e) {
            return "fails: " + e.getClass().getSimpleName();
        }
        try {
            Set<String> values = new TreeSet<>();
            snapshots.read(run, true, w -> values.add(w.toString()));
            Set<String> changes = new TreeSet<>();
            snapshots.read(run, false, w -> changes.add(w.toString()));
            snapshots.record(run, full, 1.5);
            return "entities=" + run.entities() + " changed=" + run.changed() + " removed=" + run.removed()
                    + "\nvalues " + values + "\nchanges " + changes;
        } finally {
            snapshots.drop(run);
        }
    }

    /**
     * The training set of every label of the entity, with all its window, lifetime and batch features: its rows, each
     * cell as written (in the columns of features that add up doubles, as such a value).
     */
    private static List<Map<String, Object>> trainingSet(Registry registry, ClickHouseClient clickhouse, String entity, List<Label> labels,
                                      Path dir) throws IOException {
        StringBuilder csv = new StringBuilder(registry.entity(entity).orElseThrow().keyField()).append(",ts,label\n");
        int row = 0;
        for (Label l : labels) {
            if (l.entity().equals(entity)) {
                csv.append('"').append(l.id().replace("\"", "\"\"")).append("\",").append(l.t()).append(',').append(row++).append('\n');
            }
        }
        Path in = dir.resolve(entity + "-labels.csv");
        Path out = dir.resolve(entity + "-training.csv");
        Files.writeString(in, csv);
        new TrainingSetExport(registry, clickhouse, new ObjectMapper()).export(in, entity, List.of(), out, n -> { });
        Map<String, ServedFeature> served = registry.served(entity);
        List<Map<String, Object>> rows = new ArrayList<>();
        try (MappingIterator<Map<String, String>> it = new CsvMapper().readerForMapOf(String.class)
                .with(CsvSchema.emptySchema().withHeader()).readValues(out.toFile())) {
            for (Map<String, String> cells : it.readAll()) {
                Map<String, Object> typed = new LinkedHashMap<>();
                cells.forEach((column, cell) -> typed.put(column, served.get(column) != null
                        && addsUpDoubles(served.get(column)) && !cell.isEmpty() ? new Summed(Double.parseDouble(cell)) : cell));
                rows.add(typed);
            }
        }
        return rows;
    }

    /** Whether the feature's value is a sum of doubles (a decimal's sum and mean are exact). */
    private static boolean addsUpDoubles(ServedFeature f) {
        if (f instanceof ServedFeature.ProfileValue p) {
            return p.feature().rule() == ProfileRule.INC && p.feature().value().type() == FieldType.DOUBLE;
        }
        if (!(f instanceof ServedFeature.WindowValue w)) {
            return false;
        }
        return switch (w.feature().aggregation()) {
            case SUM, AVG -> w.feature().value().type() == FieldType.DOUBLE;
            case VARIANCE, STDDEV -> true;
            default -> false;
        };
    }

    /**
     * Every table the product made: engine and keys, columns and their types, and every row (through FINAL where the
     * engine replaces rows), doubles compared as doubles and decimals by value (26.x writes 15.3 where 18.16 wrote
     * 15.30, which the product reads through the registry's scale).
     */
    private static Map<String, Object> tables(ClickHouseClient server, String database) throws IOException {
        Map<String, Object> answers = new LinkedHashMap<>();
        String db = SqlWriter.quote(database);
        String tables = server.execute("SELECT name, engine, partition_key, sorting_key, primary_key FROM system.tables"
                + " WHERE database = " + db + " ORDER BY name FORMAT TabSeparated");
        answers.put("tables", tables);
        for (String line : tables.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] table = line.split("\t");
            String columns = server.execute("SELECT name, type, default_kind, is_in_partition_key, is_in_sorting_key,"
                    + " is_in_primary_key FROM system.columns WHERE database = " + db + " AND table = "
                    + SqlWriter.quote(table[0]) + " ORDER BY name FORMAT TabSeparated");
            answers.put("columns of " + table[0], columns);
            Map<String, String> types = columns.lines().map(c -> c.split("\t"))
                    .collect(Collectors.toMap(c -> c[0], c -> c[1]));
            List<String> rows = new ArrayList<>();
            String all = server.execute("SELECT * FROM " + database + "." + table[0]
                    + (table[1].startsWith("Replacing") ? " FINAL" : "") + " FORMAT JSONEachRow");
            for (String row : all.split("\n")) {
                if (!row.isBlank()) {
                    rows.add(normalized(JSON.readTree(row), types));
                }
            }
            rows.sort(null);
            answers.put("rows of " + table[0], String.join("\n", rows));
        }
        return answers;
    }

    private static String normalized(JsonNode row, Map<String, String> types) {
        StringBuilder s = new StringBuilder();
        row.fields().forEachRemaining(field -> {
            JsonNode v = field.getValue();
            String text = v.isNull() ? "null"
                    : types.get(field.getKey()).contains("Float") ? Double.toString(v.asDouble())
                    : v.isNumber() ? v.decimalValue().stripTrailingZeros().toPlainString()
                    : v.toString();
            s.append(field.getKey()).append('=').append(text).append(' ');
        });
        return s.toString();
    }

    /** Where two answers first differ, or null when they are the same. */
    private static String difference(Object a, Object b) {
        if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y) {
            Set<Object> keys = new TreeSet<>(x.keySet());
            keys.addAll(y.keySet());
            for (Object key : keys) {
                String d = difference(x.get(key), y.get(key));
                if (d != null) {
                    return key + ": " + d;
                }
            }
            return null;
        }
        if (a instanceof List<?> x && b instanceof List<?> y) {
            for (int i = 0; i < Math.max(x.size(), y.size()); i++) {
                String d = difference(i < x.size() ? x.get(i) : "(none)", i < y.size() ? y.get(i) : "(none)");
                if (d != null) {
                    return "[" + i + "] " + d;
                }
            }
            return null;
        }
        if (a instanceof Summed x && b instanceof Summed y && !x.equals(y)) {
            double relative = Math.abs(x.value() - y.value()) / Math.max(Math.abs(x.value()), Math.abs(y.value()));
            largestRelativeDifference = Math.max(largestRelativeDifference, relative);
            return relative <= DOUBLE_TOLERANCE ? null : "18.16 gave " + x.value() + ", 26.x gave " + y.value();
        }
        if (a instanceof String x && b instanceof String y) {
            return x.equals(y) ? null : firstDifference(x, y);
        }
        return Objects.equals(a, b) ? null : "18.16 gave " + abbreviate(String.valueOf(a)) + ", 26.x gave "
                + abbreviate(String.valueOf(b));
    }

    private static String firstDifference(String a, String b) {
        String[] x = a.split("\n", -1);
        String[] y = b.split("\n", -1);
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            String p = i < x.length ? x[i] : "(end)";
            String q = i < y.length ? y[i] : "(end)";
            if (!p.equals(q)) {
                return "line " + (i + 1) + ": 18.16 gave " + abbreviate(p) + ", 26.x gave " + abbreviate(q);
            }
        }
        return "same lines, different text";
    }

    private static String abbreviate(String s) {
        return s == null || s.length() <= 400 ? s : s.substring(0, 400) + "...";
    }

    private static String version(ClickHouseClient server) {
        return server.execute("SELECT version()").strip();
    }

    /**
     * A slice of the real retail data (the customers whose id ends in 7: about a tenth, every one of their rows the
     * API accepts) and events at the edges: text with quotes, backslashes, control characters and characters beyond
     * the BMP, the largest decimal, tiny and negative-zero doubles, ties in time, epoch 0, an id full of SQL quotes,
     * and re-deliveries within and across batches. Each event is taken in as the API would, an hour or so after its
     * time.
     */
    private static Dataset retail() throws IOException {
        Registry registry = RegistryLoader.load(Path.of("../registry/retail.yaml"));
        EventValidator validator = new EventValidator(registry, new NumberRule(registry, 1e19), 0);
        RetailEvents mapping = new RetailEvents(JSON);
        List<Event> events = new ArrayList<>();
        try (MappingIterator<RetailRow> rows = RetailFile.open(RETAIL)) {
            for (int i = 0; rows.hasNext(); i++) {
                ObjectNode e = mapping.event(rows.next(), 0); // every row: the mapping numbers the lines of an invoice
                JsonNode customer = e.get("customer_id");
                if (customer != null && customer.asText().endsWith("7")) {
                    accepted(validator, i, e).ifPresent(events::add);
                }
            }
        }
        long t = Instant.parse("2011-06-01T10:00:00Z").toEpochMilli();
        String edges = """
                [{"event_id": "edge-1", "event_type": "purchase", "customer_id": "o'brien\\\\'; DROP TABLE events; --",
                  "invoice": "E1", "stock_code": "tab\\there", "description": "quote ' double \\" back \\\\ nul \\u0000 line\\nbreak",
                  "quantity": 9000000000000, "unit_price": 1e-300, "amount": "9999999999999999.99", "country": "Österreich ☕ 東京 𝄞", "ts": %1$d},
                 {"event_id": "edge-2", "event_type": "purchase", "customer_id": "o'brien\\\\'; DROP TABLE events; --",
                  "invoice": "E1", "stock_code": "tab\\there", "quantity": -1, "unit_price": -0.0, "amount": "-9999999999999999.99", "ts": %1$d},
                 {"event_id": "edge-3", "event_type": "purchase", "customer_id": "o'brien\\\\'; DROP TABLE events; --",
                  "invoice": "E2", "stock_code": "", "quantity": 0, "unit_price": 0.1, "amount": "0.01", "country": "", "ts": %1$d},
                 {"event_id": "edge-4", "event_type": "cancellation", "customer_id": 12345, "invoice": "CE3",
                  "stock_code": "85123A", "quantity": -3, "unit_price": 2.55, "amount": "-7.65", "ts": 0},
                 {"event_id": "edge-5", "event_type": "purchase", "customer_id": 12345, "invoice": "E4",
                  "stock_code": "85123A", "quantity": 3, "unit_price": 2.55, "amount": "7.65", "ts": 0}]
                """.formatted(t);
        List<Event> edgeEvents = new ArrayList<>();
        int i = 0;
        for (JsonNode e : JSON.readTree(edges)) {
            edgeEvents.add(accepted(validator, i++, (ObjectNode) e).orElseThrow(() -> new AssertionError("refused: " + e)));
        }
        List<List<Event>> batches = new ArrayList<>();
        batches.add(new ArrayList<>(events.subList(0, events.size() / 2)));
        batches.add(new ArrayList<>(events.subList(events.size() / 2, events.size())));
        batches.get(1).addAll(events.subList(0, 500)); // re-delivered in a later batch
        edgeEvents.add(edgeEvents.get(0)); // and twice in one
        batches.add(edgeEvents);

        Random random = new Random(14);
        List<String> customers = events.stream().map(Event::entityId).distinct().sorted().toList();
        long first = events.stream().mapToLong(Event::ts).min().orElseThrow();
        long last = events.stream().mapToLong(Event::ts).max().orElseThrow();
        List<Label> labels = new ArrayList<>();
        for (String c : customers) {
            for (int k = 0; k < 3; k++) {
                labels.add(new Label("customer", c, first + (long) (random.nextDouble() * (last - first + 30 * 24 * HOUR))));
            }
        }
        for (Event e : edgeEvents) { // at, before and after the edges' times
            for (long d : new long[] {-1, 0, 1, 90L * 24 * HOUR}) {
                labels.add(new Label("customer", e.entityId(), Math.max(0, e.ts() + d)));
            }
        }
        events.stream().filter(e -> random.nextInt(100) == 0) // exactly at real events' times, and a millisecond after
                .forEach(e -> labels.addAll(List.of(new Label("customer", e.entityId(), e.ts()),
                        new Label("customer", e.entityId(), e.ts() + 1))));
        long middle = (first + last) / 2;
        return new Dataset(registry, batches, labels, List.of(middle, middle + 24 * HOUR, last + 91 * 24 * HOUR));
    }

    /** The batch as the log appended it: each event up to three hours after its time, the same on every run. */
    private static List<LoggedEvent> arrived(List<Event> batch) {
        return batch.stream().map(e -> new LoggedEvent((e.ts() + Math.floorMod(e.key().hashCode(), 3 * HOUR)) + "-0", e))
                .toList();
    }

    /** The event as the API takes it in, received a little after its time (up to three hours), if it is valid. */
    private static Optional<Event> accepted(EventValidator validator, int index, ObjectNode e) {
        JsonNode ts = e.get("ts");
        if (ts == null || !ts.canConvertToLong()) {
            return Optional.empty();
        }
        long received = ts.asLong() + Math.floorMod(e.get("event_id").asText().hashCode(), 3 * HOUR);
        EventValidator.Result r = validator.validate(index, e, received);
        return r.valid() ? Optional.of(r.event()) : Optional.empty();
    }

    /** The property test's events: every aggregation, filter and window of its registry, with ties and re-deliveries. */
    private static Dataset generated(int users, long seed) {
        Registry registry = RegistryLoader.load(Path.of("src/test/resources/registry/property.yaml"));
        Random random = new Random(seed);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < users; i++) {
            ids.add("u" + i);
        }
        List<PropertyModel.Tx> sent = PropertyModel.generate(random, ids, NOW, NOW);
        List<Event> events = sent.stream().map(PropertyModel.Tx::event).toList();
        List<List<Event>> batches = new ArrayList<>(List.of(new ArrayList<>(events.subList(0, events.size() / 3)),
                new ArrayList<>(events.subList(events.size() / 3, events.size()))));
        List<Label> labels = new ArrayList<>();
        for (String id : ids) {
            labels.add(new Label("user", id, NOW - random.nextInt((int) (30 * HOUR))));
            labels.add(new Label("user", id, NOW + HOUR));
            sent.stream().filter(tx -> tx.user().equals(id)).limit(2).forEach(tx -> labels.addAll(List.of(
                    new Label("user", id, tx.ts() - 1), new Label("user", id, tx.ts()), new Label("user", id, tx.ts() + 1))));
        }
        return new Dataset(registry, batches, labels, List.of());
    }

    /**
     * The batch test's registry (a double and a long batch feature, the long one returning an entity twice, which
     * must fail alike) with doubles whose text is hard to get right: sums like 0.1 + 0.2, tiny, huge, negative and
     * repeating ones.
     */
    private static Dataset orders() throws IOException {
        Registry registry = RegistryLoader.load(Path.of("src/test/resources/registry/batch.yaml"));
        double[] amounts = {0.1, 0.2, 1e-7, 1e21, 123456.789, -2.5, 1.0 / 3, 3.0, 5e-324, 1.7976931348623157e308, 42};
        List<Event> events = new ArrayList<>();
        List<Label> labels = new ArrayList<>();
        for (int u = 0; u < amounts.length; u++) {
            for (int k = 0; k <= u % 3; k++) {
                long ts = NOW - (u + k) * 5 * HOUR;
                events.add(new Event("o-" + u + "-" + k, "order", "user-" + u, ts, Map.of("amount", amounts[(u + k) % amounts.length])));
            }
            labels.add(new Label("user", "user-" + u, NOW + 2 * HOUR));
            labels.add(new Label("user", "user-" + u, NOW + 25 * HOUR));
        }
        return new Dataset(registry, new ArrayList<>(List.of(events)), labels, List.of(NOW, NOW + HOUR, NOW + 24 * HOUR));
    }
}
