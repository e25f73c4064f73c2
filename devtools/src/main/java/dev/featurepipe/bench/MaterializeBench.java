package dev.featurepipe.bench;

import dev.featurepipe.app.Stores;
import dev.featurepipe.clickhouse.BatchSnapshots;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.registry.BatchFeature;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.materialize.Materializer;
import dev.featurepipe.redis.RedisBatchValueStore;
import dev.featurepipe.redis.RedisConnections;
import io.lettuce.core.LettuceFutures;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.SetArgs;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * How fast {@code ./fp materialize --full} backfills a large entity population, measured in one run:
 * <ol>
 * <li>the data: the retail events spread over {@code entities} customers (each real event is copied to entities
 * {@code n} with {@code n mod rows} equal to its row, twice as many events as entities) in a ClickHouse database
 * of the benchmark's own;</li>
 * <li>a full run of every batch feature of the registry: seconds, values written per second, and how much of it
 * is ClickHouse computing the SQL and the changes, and how much reading the values and writing them to Redis;</li>
 * <li>the baseline: as many plain {@code SET ... PX} of values of the same size, pipelined in the same chunks from
 * the same client, so the write phase is a ratio to Redis itself.</li>
 * </ol>
 * Everything goes under a key prefix and databases of its own, removed at the end.
 * Run: {@code ./fp bench materialize [--entities N]}.
 */
public final class MaterializeBench {
    /** One feature's full run: entities with a value, seconds in all and writing, and the baseline's rate. */
    public record FeatureResult(String feature, long values, double seconds, double writeSeconds, double baselinePerSecond) {
        public double valuesPerSecond() {
            return values / seconds;
        }

        public double writePerSecond() {
            return values / writeSeconds;
        }
    }

    private static final int CHUNK = 5_000;
    /** More than the rows of the retail file: all its valid events. */
    private static final int RETAIL_ROWS = 600_000;

    private final Config config;
    private final Path file;
    private final int entities;
    private final PrintStream out;
    private final String run = "bench-" + UUID.randomUUID().toString().substring(0, 8);

    public MaterializeBench(Config config, Path file, int entities, PrintStream out) {
        this.config = config;
        this.file = file;
        this.entities = entities;
        this.out = out;
    }

    public List<FeatureResult> run() {
        String database = run.replace('-', '_');
        try (Stores stores = new Stores(config)) {
            Registry registry = stores.registry();
            if (registry.batchFeatures().isEmpty()) {
                throw new IllegalStateException("the registry has no batch features to materialize");
            }
            ClickHouseClient clickhouse = stores.clickhouse();
            RedisConnections redis = stores.redis();
            try {
                long events = spreadRetailEvents(stores, database);
                out.printf(Locale.ROOT, "data: %,d events of %,d entities in %s.events%n", events, entities, database);
                BatchSnapshots snapshots = stores.snapshots(database);
                snapshots.ensureSchema();
                RedisBatchValueStore store = stores.batchValues(run, run);
                Materializer materializer = new Materializer(snapshots, store, Clock.systemUTC(), new SimpleMeterRegistry());
                List<FeatureResult> results = new ArrayList<>();
                for (BatchFeature f : registry.batchFeatures()) {
                    TimedProgress progress = new TimedProgress();
                    Materializer.Outcome o = materializer.run(f, true, progress);
                    double write = (System.nanoTime() - progress.startedWriting) / 1e9;
                    double baseline = baseline(redis, o.written(), averageLength(clickhouse, database, f));
                    results.add(new FeatureResult(f.name(), o.written(), o.seconds(), write, baseline));
                    out.printf(Locale.ROOT, "%s: %,d values in %.1f s (%,.0f values/s; writing %.1f s, %,.0f values/s;"
                            + " baseline SET %,.0f/s)%n", f.name(), o.written(), o.seconds(), o.written() / o.seconds(),
                            write, o.written() / write, baseline);
                }
                return results;
            } finally {
                BenchData.deleteKeys(redis.shared().sync(), run);
                clickhouse.execute("DROP DATABASE IF EXISTS " + database);
                clickhouse.execute("DROP DATABASE IF EXISTS " + database + "_src");
            }
        }
    }

    /** Loads the retail events, then copies each to the entities whose number modulo the row count is its row. */
    private long spreadRetailEvents(Stores stores, String database) {
        Registry registry = stores.registry();
        ClickHouseClient clickhouse = stores.clickhouse();
        List<Event> events = BenchData.retailEvents(registry, file, RETAIL_ROWS);
        ClickHouseEventTable source = stores.offlineTable(database + "_src");
        source.ensureSchema();
        for (int from = 0; from < events.size(); from += 50_000) {
            source.insert(LoggedEvent.asHistory(events.subList(from, Math.min(events.size(), from + 50_000))));
        }
        stores.offlineTable(database).ensureSchema();
        String fields = registry.allFields().keySet().stream().collect(Collectors.joining(", "));
        long copies = 2L * entities;
        clickhouse.execute("INSERT INTO " + database + ".events (event_id, event_type, entity_id, ts, " + fields + ")"
                + " SELECT concat(event_id, '/', toString(n)), event_type, toString(n % " + entities + "), ts, " + fields
                + " FROM (SELECT number AS n, toUInt64(number % " + events.size() + ") AS r FROM system.numbers LIMIT " + copies + ")"
                + " ALL INNER JOIN (SELECT rowNumberInAllBlocks() AS r, * FROM " + database + "_src.events) USING r");
        return copies;
    }

    private static int averageLength(ClickHouseClient clickhouse, String database, BatchFeature f) {
        String sql = "SELECT toUInt32(avg(length(value))) FROM " + database + ".batch_values WHERE feature = '" + f.name()
                + "' FORMAT TabSeparated";
        return Math.max(1, Integer.parseInt(clickhouse.execute(sql).strip()));
    }

    /** Plain SET ... PX of as many values of that length, pipelined in chunks like the materializer's writes. */
    private double baseline(RedisConnections redis, long count, int valueLength) {
        RedisConnections.Link connection = redis.dedicated();
        connection.setAutoFlushCommands(false);
        RedisClusterAsyncCommands<String, String> async = connection.async();
        String value = "1" + "0".repeat(12) + " " + "x".repeat(valueLength);
        SetArgs px = SetArgs.Builder.px(60_000);
        long start = System.nanoTime();
        for (long from = 0; from < count; from += CHUNK) {
            List<RedisFuture<?>> replies = new ArrayList<>(CHUNK);
            for (long i = from; i < Math.min(count, from + CHUNK); i++) {
                replies.add(async.set(run + ":baseline:" + i, value, px));
            }
            connection.flushCommands();
            LettuceFutures.awaitAll(30, TimeUnit.SECONDS, replies.toArray(RedisFuture[]::new));
        }
        return count / ((System.nanoTime() - start) / 1e9);
    }

    /** Notes when a run starts writing, after ClickHouse computed it. */
    private static final class TimedProgress implements Materializer.Progress {
        private long startedWriting;

        @Override
        public void start(String feature, long total) {
            startedWriting = System.nanoTime();
        }

        @Override
        public void step(long written) {
        }
    }
}
