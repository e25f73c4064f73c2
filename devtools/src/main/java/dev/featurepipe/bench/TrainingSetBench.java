package dev.featurepipe.bench;

import dev.featurepipe.app.Stores;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.export.TrainingSetExport;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.UUID;

/**
 * How fast a point-in-time training set is built, measured in one run:
 * <ol>
 * <li>the data: the valid retail events in a ClickHouse database of the benchmark's own;</li>
 * <li>the labels: {@code labels} rows of random customers at random times within the events' span (seeded, so
 * every run asks the same), with a 0/1 label column;</li>
 * <li>the export of the given features for those labels, as {@code ./fp training-set} does it;</li>
 * <li>the baseline: the join the export cannot avoid, each label with its entity's events up to its time,
 * counted instead of aggregated, once per feature, so the export is a ratio to ClickHouse's own join.</li>
 * </ol>
 * The database and the files are removed at the end. Run: {@code ./fp bench training-set [--labels N] [--features a,b]}.
 */
public final class TrainingSetBench {
    /** The figures of one run. */
    public record Result(int labels, int features, double seconds, double baselineSeconds) {
    }

    /** More than the rows of the retail file: all its valid events. */
    private static final int RETAIL_ROWS = 600_000;

    private final Config config;
    private final Path file;
    private final int labels;
    private final List<String> features;
    private final PrintStream out;
    private final String database = "bench_" + UUID.randomUUID().toString().substring(0, 8);

    public TrainingSetBench(Config config, Path file, int labels, List<String> features, PrintStream out) {
        this.config = config;
        this.file = file;
        this.labels = labels;
        this.features = features;
        this.out = out;
    }

    public Result run() {
        Stores stores = new Stores(config); // ClickHouse only: nothing to close
        Registry registry = stores.registry();
        String entity = registry.entityNames().get(0);
        ClickHouseClient server = stores.clickhouse();
        Path dir = null;
        try {
            dir = Files.createTempDirectory("fp-bench-training-set");
            List<Event> events = BenchData.retailEvents(registry, file, RETAIL_ROWS);
            ClickHouseEventTable table = stores.offlineTable(database);
            table.ensureSchema();
            for (int from = 0; from < events.size(); from += 50_000) {
                table.insert(LoggedEvent.asHistory(events.subList(from, Math.min(events.size(), from + 50_000))));
            }
            stores.snapshots(database).ensureSchema();
            Path labelFile = writeLabels(events, registry.entity(entity).orElseThrow().keyField(), dir.resolve("labels.csv"));
            out.printf(Locale.ROOT, "data: %,d events in %s.events; %,d labels; features: %s%n", events.size(), database,
                    labels, String.join(",", features));
            ClickHouseClient clickhouse = server.withDatabase(database);
            TrainingSetExport.Summary summary = new TrainingSetExport(registry, clickhouse, stores.json())
                    .export(labelFile, entity, features, dir.resolve("training.csv"), done -> { });
            double baseline = baseline(clickhouse, labelFile);
            out.printf(Locale.ROOT, "training set: %,d rows x %d features in %.1f s (%,.0f rows/s); baseline join x %d: %.1f s%n",
                    summary.rows(), summary.features(), summary.seconds(), summary.rows() / summary.seconds(),
                    features.size(), baseline);
            return new Result(summary.rows(), summary.features(), summary.seconds(), baseline);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            server.execute("DROP DATABASE IF EXISTS " + database);
            deleteQuietly(dir);
        }
    }

    private Path writeLabels(List<Event> events, String keyColumn, Path path) throws IOException {
        Random random = new Random(42);
        long first = events.stream().mapToLong(Event::ts).min().orElseThrow();
        long last = events.stream().mapToLong(Event::ts).max().orElseThrow();
        List<String> customers = events.stream().map(Event::entityId).distinct().toList();
        try (BufferedWriter w = Files.newBufferedWriter(path)) {
            w.write(keyColumn + ",ts,label\n");
            for (int i = 0; i < labels; i++) {
                long ts = first + (long) (random.nextDouble() * (last - first + 1));
                w.write(customers.get(random.nextInt(customers.size())) + "," + ts + "," + random.nextInt(2) + "\n");
            }
        }
        return path;
    }

    /** The labels joined with their entity's events up to their time, counted, once per feature; in seconds. */
    private double baseline(ClickHouseClient clickhouse, Path labelFile) throws IOException {
        clickhouse.execute("CREATE TABLE bench_labels (entity_id String, as_of Int64) ENGINE = Memory");
        byte[] rows = String.join("\n", Files.readAllLines(labelFile).stream().skip(1)
                .map(line -> line.substring(0, line.lastIndexOf(',')).replace(',', '\t')).toList()).getBytes();
        clickhouse.insert("INSERT INTO bench_labels FORMAT TabSeparated", rows);
        long start = System.nanoTime();
        for (int i = 0; i < features.size(); i++) {
            clickhouse.execute("SELECT count() FROM bench_labels ALL INNER JOIN (SELECT entity_id, ts FROM "
                    + ClickHouseEventTable.TABLE + " FINAL) USING entity_id WHERE ts <= as_of");
        }
        return (System.nanoTime() - start) / 1e9;
    }

    private static void deleteQuietly(Path dir) {
        if (dir == null) {
            return;
        }
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // a temporary directory left behind is not worth failing the benchmark for
        }
    }
}
