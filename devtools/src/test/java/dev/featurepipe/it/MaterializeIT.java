package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.clickhouse.BatchSnapshots;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.BatchValueStore;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.Materialized;
import dev.featurepipe.core.registry.BatchFeature;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.export.TrainingSetExport;
import dev.featurepipe.materialize.Materializer;
import dev.featurepipe.redis.RedisBatchValueStore;
import dev.featurepipe.redis.RedisConnections;
import dev.featurepipe.redis.RedisOnlineStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Batch features: computed in ClickHouse as of a time, written to Redis in full or as changes (new, changed,
 * removed values), served with their computation time, and in training sets only from runs at or before a label.
 */
@ExtendWith(TestServices.class)
@Timeout(300)
class MaterializeIT {
    private static final String REGISTRY = "src/test/resources/registry/batch.yaml";
    private static final long HOUR = Duration.ofHours(1).toMillis();
    private static final long T0 = Instant.parse("2026-07-01T00:00:00Z").toEpochMilli();

    private final MutableClock clock = new MutableClock(T0);
    private final Registry registry = RegistryLoader.load(Path.of(REGISTRY));
    private final BatchFeature spend = registry.batchFeatures().get(0);
    private Config config;
    private RedisConnections redis;
    private ClickHouseClient server;
    private ClickHouseEventTable events;
    private BatchSnapshots snapshots;
    private RedisBatchValueStore store;
    private Materializer materializer;

    @BeforeEach
    void setUp() {
        config = TestServices.config(REGISTRY, Map.of());
        redis = new RedisConnections(config.get(Config.REDIS_URL));
        server = new ClickHouseClient(config.get(Config.CLICKHOUSE_URL), null);
        events = new ClickHouseEventTable(server, config.get(Config.CLICKHOUSE_DATABASE), registry);
        events.ensureSchema();
        snapshots = new BatchSnapshots(server, config.get(Config.CLICKHOUSE_DATABASE));
        snapshots.ensureSchema();
        store = new RedisBatchValueStore(redis, TestServices.shards(config.get(Config.STREAM)), "it");
        materializer = new Materializer(snapshots, store, clock, new SimpleMeterRegistry());
    }

    @AfterEach
    void tearDown() {
        server.execute("DROP DATABASE IF EXISTS " + config.get(Config.CLICKHOUSE_DATABASE));
        redis.close();
    }

    private static Event order(String user, long ts, double amount) {
        return new Event(user + "-" + ts + "-" + amount, "order", user, ts, Map.of("amount", amount));
    }

    private Map<String, Map<String, Object>> online(List<String> users) {
        return new RedisOnlineStore(redis, registry, TestServices.shards(config.get(Config.STREAM)), clock, config.get(Config.ONLINE_SCRIPT_EVENTS),
                config.get(Config.ONLINE_PRUNE_PERIODS))
                .read("user", users, List.of(registry.served("user").get("spend_1d")), clock.millis());
    }

    /** u3 leaves the 1-day window between the runs, u2 changes, u4 appears, u1 stays as it was. */
    private long[] twoRuns() {
        events.insert(LoggedEvent.asHistory(List.of(order("u3", T0, 7), order("u1", T0 + 2 * HOUR, 10),
                order("u1", T0 + 2 * HOUR, 20), order("u2", T0 + 2 * HOUR, 5))));
        long t1 = T0 + 3 * HOUR;
        clock.set(t1);
        Materializer.Outcome first = materializer.run(spend, false, Materializer.Progress.NONE);
        assertThat(first.full()).as("the first run writes everything").isTrue();
        assertThat(first.entities()).isEqualTo(3);
        assertThat(first.written()).isEqualTo(3);

        events.insert(LoggedEvent.asHistory(List.of(order("u2", T0 + 4 * HOUR, 5), order("u4", T0 + 4 * HOUR, 1))));
        long t2 = T0 + 24 * HOUR + 30 * 60_000;
        clock.set(t2);
        Materializer.Outcome second = materializer.run(spend, false, Materializer.Progress.NONE);
        assertThat(second.full()).isFalse();
        assertThat(second.entities()).isEqualTo(3);
        assertThat(second.written()).as("u2 changed, u4 new, u3 removed").isEqualTo(3);
        return new long[] {t1, t2};
    }

    @Test
    void incrementalRunWritesOnlyChangesAndRemovals() {
        long[] t = twoRuns();

        Map<String, Map<String, Object>> served = online(List.of("u1", "u2", "u3", "u4"));
        assertThat(served.get("u1")).as("unchanged, so not written again, but confirmed by the second run")
                .containsEntry("spend_1d", new Materialized(30.0, t[1]));
        assertThat(served.get("u2")).containsEntry("spend_1d", new Materialized(10.0, t[1]));
        assertThat(served.get("u3")).doesNotContainKey("spend_1d");
        assertThat(served.get("u4")).containsEntry("spend_1d", new Materialized(1.0, t[1]));
        long ttl = redis.shared().sync().pttl(TestServices.shards(config.get(Config.STREAM)).prefixOf("u4") + ":user:u4:spend_1d");
        assertThat(ttl).isBetween(spend.ttl().toMillis() - 60_000, spend.ttl().toMillis());

        clock.set(t[1] + HOUR);
        Materializer.Outcome full = materializer.run(spend, true, Materializer.Progress.NONE);
        assertThat(full.full()).isTrue();
        assertThat(full.written()).as("every entity again, nothing changed").isEqualTo(3);
    }

    @Test
    void aRunWhoseWritesDidNotCompleteMakesTheNextOneFull() {
        long[] t = twoRuns();
        store.beginWrite(spend, t[1] + 1); // as a process that died while writing would leave it
        clock.set(t[1] + HOUR);

        Materializer.Outcome next = materializer.run(spend, false, Materializer.Progress.NONE);

        assertThat(next.full()).isTrue();
        assertThat(next.written()).isEqualTo(3);
        assertThat(store.marks(spend).writing()).isZero();
    }

    @Test
    void oneProcessAtATimeMaterializesAFeature() {
        RedisBatchValueStore other = new RedisBatchValueStore(redis, TestServices.shards(config.get(Config.STREAM)), "other");
        assertThat(other.tryLock(spend, Duration.ofMinutes(1))).isTrue();

        assertThatThrownBy(() -> materializer.run(spend, false, Materializer.Progress.NONE))
                .isInstanceOf(FeaturepipeException.class).hasMessageContaining("another process");
        RedisBatchValueStore restarted = new RedisBatchValueStore(redis, TestServices.shards(config.get(Config.STREAM)), "other");
        assertThat(restarted.tryLock(spend, Duration.ofMinutes(1))).as("the same name takes back its claim").isTrue();
        restarted.unlock(spend);
        events.insert(LoggedEvent.asHistory(List.of(order("u1", T0, 1))));
        assertThat(materializer.run(spend, false, Materializer.Progress.NONE).written()).isEqualTo(1);
    }

    @Test
    void sqlThatReturnsAnEntityTwiceFailsAndRecordsNothing() {
        BatchFeature lines = registry.batchFeatures().get(1);
        events.insert(LoggedEvent.asHistory(List.of(order("u1", T0, 1), order("u1", T0 + 1, 2))));
        clock.set(T0 + HOUR);

        assertThatThrownBy(() -> materializer.run(lines, false, Materializer.Progress.NONE))
                .isInstanceOf(FeaturepipeException.class).hasMessageContaining("returned 2 rows for 1 entities");
        assertThat(snapshots.lastRun(lines.name())).isEmpty();
        assertThat(store.marks(lines)).isEqualTo(new BatchValueStore.Marks(0, 0, 0));
    }

    @Test
    void servedWithTheTimeItWasComputedAndStaleOnceTwoRefreshesOld() {
        long[] t = twoRuns();
        try (Pipeline pipeline = Pipeline.start(config, Set.of(Role.SERVE), clock)) {
            Api api = new Api(pipeline.httpPort());

            Api.Reply u2 = api.get("/v1/features/user/u2?features=spend_1d,orders");
            Api.Reply u3 = api.get("/v1/features/user/u3?features=spend_1d");

            assertThat(u2.status()).isEqualTo(200);
            assertThat(u2.body().at("/features/spend_1d").asDouble()).isEqualTo(10.0);
            assertThat(u2.body().at("/status/spend_1d").asText()).isEqualTo("ok");
            assertThat(u2.body().at("/computed_at/spend_1d").asLong()).isEqualTo(t[1]);
            assertThat(u2.body().at("/computed_at").has("orders")).isFalse();
            assertThat(u3.body().at("/features/spend_1d").isNull()).isTrue();
            assertThat(u3.body().at("/status/spend_1d").asText()).isEqualTo("missing");

            clock.set(t[1] + 2 * spend.refresh().toMillis());
            assertThat(api.get("/v1/features/user/u2?features=spend_1d").body().at("/status/spend_1d").asText())
                    .as("two refreshes old is still fresh").isEqualTo("ok");
            clock.set(t[1] + 2 * spend.refresh().toMillis() + 1);
            Api.Reply late = api.get("/v1/features/user/u2?features=spend_1d");
            assertThat(late.body().at("/status/spend_1d").asText()).isEqualTo("stale");
            assertThat(late.body().at("/features/spend_1d").asDouble()).as("a stale value is still served").isEqualTo(10.0);
        }
    }

    @Test
    void trainingSetsSeeOnlyRunsAtOrBeforeTheLabel(@TempDir Path dir) throws Exception {
        long[] t = twoRuns();
        String[][] labels = {
            {"u2", Long.toString(t[0] - 1), ""},       // before any run
            {"u2", Long.toString(t[0]), "5.0"},        // the first run, at its time
            {"u2", Long.toString(t[1] - 1), "5.0"},    // still the first run
            {"u2", Long.toString(t[1]), "10.0"},       // the second run
            {"u3", Long.toString(t[0] + 1), "7.0"},
            {"u3", Long.toString(t[1] + 1), ""},       // removed by the second run
            {"u1", Long.toString(t[1] + 5), "30.0"},   // unchanged since the first run
            {"u4", Long.toString(t[0] + 1), ""}};
        StringBuilder csv = new StringBuilder("user_id,ts\n");
        for (String[] l : labels) {
            csv.append(l[0]).append(',').append(l[1]).append('\n');
        }
        Path in = dir.resolve("labels.csv");
        Path out = dir.resolve("training.csv");
        Files.writeString(in, csv);

        new TrainingSetExport(registry, server.withDatabase(config.get(Config.CLICKHOUSE_DATABASE)), new ObjectMapper())
                .export(in, "user", List.of("spend_1d"), out, n -> { });

        List<String> got = new ArrayList<>();
        try (var rows = new CsvMapper().readerForMapOf(String.class).with(CsvSchema.emptySchema().withHeader())
                .<Map<String, String>>readValues(out.toFile())) {
            rows.forEachRemaining(r -> got.add(r.get("user_id") + "@" + r.get("ts") + "=" + r.get("spend_1d")));
        }
        List<String> expected = new ArrayList<>();
        for (String[] l : labels) {
            expected.add(l[0] + "@" + l[1] + "=" + (l[2].isEmpty() ? "" : Double.toString(Double.parseDouble(l[2]))));
        }
        assertThat(got.stream().map(MaterializeIT::normalized).toList()).containsExactlyElementsOf(expected);
        assertThat(registry.served("user").get("spend_1d")).isInstanceOf(ServedFeature.BatchValue.class);
    }

    /** ClickHouse prints 5.0 as 5: compare the numbers. */
    private static String normalized(String row) {
        String value = row.substring(row.indexOf('=') + 1);
        return value.isEmpty() ? row : row.substring(0, row.indexOf('=') + 1) + Double.parseDouble(value);
    }
}
