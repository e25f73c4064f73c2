package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.app.Stores;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.clickhouse.FeatureSql;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.export.TrainingSetExport;
import dev.featurepipe.materialize.Materializer;
import io.lettuce.core.XAddArgs;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
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
 * "As known at t": an event stamped T that reached the stream only at T+2h is stored with that ingest time by the
 * offline consumer, and neither a training set, the skew check's SQL nor a batch feature as of T+1h counts it;
 * as of T+3h they all do. The stream entries are written with explicit ids, which are their ingest times.
 */
@ExtendWith(TestServices.class)
@Timeout(120)
class AsKnownAtIT {
    private static final long HOUR = Duration.ofHours(1).toMillis();
    private static final long T = Instant.parse("2026-07-01T12:00:00Z").toEpochMilli();

    private final MutableClock clock = new MutableClock(T);
    private Config config;
    private Pipeline pipeline;

    @BeforeEach
    void start() {
        config = TestServices.config("src/test/resources/registry/batch.yaml", Map.of());
        pipeline = Pipeline.start(config, Set.of(Role.OFFLINE), clock);
    }

    @AfterEach
    void stop() {
        pipeline.close();
        pipeline.stores().clickhouse().execute("DROP DATABASE IF EXISTS " + config.get(Config.CLICKHOUSE_DATABASE));
    }

    /** Appends the event to the stream as if Redis had appended it at {@code ingestedAt}. */
    private void appendAt(long ingestedAt, Event e) {
        Stores stores = pipeline.stores();
        stores.redis().shared().sync().xadd(stores.shards().prefixOf(e.entityId()), new XAddArgs().id(ingestedAt + "-0"),
                Map.of("e", stores.codec().encode(e)));
    }

    @Test
    void anEventThatArrivedLateCountsOnlyFromItsArrival(@TempDir Path dir) throws Exception {
        appendAt(T - 60_000, new Event("on-time", "order", "u1", T - 60_000, Map.of("amount", 10.0)));
        appendAt(T + 2 * HOUR, new Event("late", "order", "u1", T, Map.of("amount", 5.0)));
        ClickHouseEventTable events = pipeline.offlineTable();
        await().atMost(Duration.ofSeconds(30)).until(() -> events.countEvents() == 2);
        assertThat(events.query("SELECT event_id, ts, ingested_at FROM events ORDER BY event_id FORMAT TabSeparated"))
                .as("the ingest time is the stream entry's time").isEqualTo("late\t" + T + "\t" + (T + 2 * HOUR) + "\n"
                        + "on-time\t" + (T - 60_000) + "\t" + (T - 60_000) + "\n");

        Materializer materializer = new Materializer(pipeline.stores().snapshots(), pipeline.stores().batchValues("it"),
                clock, new SimpleMeterRegistry());
        var spend = pipeline.registry().batchFeatures().get(0);
        clock.set(T + HOUR);
        materializer.run(spend, false, Materializer.Progress.NONE);
        clock.set(T + 3 * HOUR);
        materializer.run(spend, false, Materializer.Progress.NONE);

        Path labels = dir.resolve("labels.csv");
        Path out = dir.resolve("training.csv");
        Files.writeString(labels, "user_id,ts\nu1," + (T + HOUR) + "\nu1," + (T + 3 * HOUR) + "\n");
        new TrainingSetExport(pipeline.registry(), pipeline.stores().clickhouse().withDatabase(config.get(Config.CLICKHOUSE_DATABASE)),
                new ObjectMapper()).export(labels, "user", List.of("orders", "spend_1d"), out, n -> { });
        List<String> rows = new ArrayList<>();
        try (var it = new CsvMapper().readerForMapOf(String.class).with(CsvSchema.emptySchema().withHeader())
                .<Map<String, String>>readValues(out.toFile())) {
            it.forEachRemaining(r -> rows.add(r.get("ts") + ": orders " + r.get("orders")
                    + ", spend_1d " + Double.parseDouble(r.get("spend_1d"))));
        }
        assertThat(rows).containsExactly((T + HOUR) + ": orders 1, spend_1d 10.0", (T + 3 * HOUR) + ": orders 2, spend_1d 15.0");

        assertThat(skewCheckValue(events, T + HOUR)).as("the skew check's SQL as of T+1h").isEqualTo("1");
        assertThat(skewCheckValue(events, T + 3 * HOUR)).as("the skew check's SQL as of T+3h").isEqualTo("2");
    }

    /** The offline value of {@code orders} of u1 as of t, as the skew check computes it. */
    private String skewCheckValue(ClickHouseEventTable events, long t) throws Exception {
        ServedFeature.WindowValue orders = (ServedFeature.WindowValue) pipeline.registry().served("user").get("orders");
        Map<String, Long> asOf = new LinkedHashMap<>(Map.of("u1", t));
        String row = events.query(FeatureSql.valuesAt(ClickHouseEventTable.TABLE, orders.feature(), orders.window(), asOf));
        return new ObjectMapper().readTree(row).get("value").asText();
    }
}
