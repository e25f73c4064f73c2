package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.cli.Main;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.registry.RegistryLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The events table made with one registry, then a start with a registry where a field's type changed: the start
 * stops before anything is written, naming the column, both types and what to do. The same registry starts.
 */
@ExtendWith(TestServices.class)
@Timeout(120)
class ClickHouseSchemaIT {
    private static final String REGISTRY = """
            entities:
              user:
                key: user_id
            events:
              order:
                entity: user
                fields:
                  amount: %s
                  %s
            features:
              - name: orders
                event: order
                aggregation: count
            """;

    @TempDir
    Path dir;
    private Config config;

    /** A configuration with this registry, on the database of the test's first one. */
    private Config configWith(String amountType, String moreFields) throws Exception {
        Path registry = Files.createTempFile(dir, "registry", ".yaml");
        Files.writeString(registry, REGISTRY.formatted(amountType, moreFields));
        Config made = TestServices.config(registry.toString(), Map.of());
        return config == null ? made : made.with(Map.of(Config.CLICKHOUSE_DATABASE, config.get(Config.CLICKHOUSE_DATABASE)));
    }

    @AfterEach
    void dropDatabase() {
        new ClickHouseClient(TestServices.CLICKHOUSE, null).execute("DROP DATABASE IF EXISTS " + config.get(Config.CLICKHOUSE_DATABASE));
    }

    private String columns(ClickHouseEventTable table) {
        return table.query("SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'events'"
                + " ORDER BY name FORMAT TabSeparated");
    }

    @Test
    void aFieldWhoseTypeChangedStopsTheStartBeforeAnythingIsWritten() throws Exception {
        config = configWith("double", "");
        ClickHouseEventTable made = new ClickHouseEventTable(new ClickHouseClient(TestServices.CLICKHOUSE, null),
                config.get(Config.CLICKHOUSE_DATABASE), RegistryLoader.load(config.path(Config.REGISTRY)));
        made.ensureSchema();
        made.insert(LoggedEvent.asHistory(List.of(new Event("o1", "order", "u1", 1_000, Map.of("amount", 2.5)))));
        String columnsBefore = columns(made);

        Config changed = configWith("{type: decimal, scale: 2}", "note: string");
        String db = changed.get(Config.CLICKHOUSE_DATABASE);
        assertThatThrownBy(() -> Pipeline.start(changed, Set.of(Role.OFFLINE), Clock.systemUTC()).close())
                .isInstanceOf(FeaturepipeException.class)
                .hasMessageContaining("amount is Nullable(Float64) in ClickHouse but Nullable(Decimal(18, 2)) in the registry")
                .hasMessageContaining("give each such field a new name in the registry")
                .hasMessageContaining("ALTER TABLE " + db + ".events MODIFY COLUMN <column> <registry's type>");

        assertThat(columns(made)).as("no column added, none changed").isEqualTo(columnsBefore);
        assertThat(made.query("SELECT event_id, amount FROM events FORMAT TabSeparated")).isEqualTo("o1\t2.5\n");
    }

    @Test
    void theRegistryTheTableWasMadeWithStartsAndANewFieldIsAdded() throws Exception {
        config = configWith("{type: decimal, scale: 2}", "");
        Pipeline.start(config, Set.of(Role.OFFLINE), Clock.systemUTC()).close();

        Config more = configWith("{type: decimal, scale: 2}", "note: string");
        try (Pipeline pipeline = Pipeline.start(more, Set.of(Role.OFFLINE), Clock.systemUTC())) {
            assertThat(columns(pipeline.offlineTable())).contains("amount\tNullable(Decimal(18, 2))\n")
                    .contains("note\tNullable(String)\n").contains("ingested_at\tInt64\n");
        }
    }

    @Test
    void aTableFromBeforeTheIngestTimeGetsItsColumnAtATrainingSetAndOldRowsReadTheirEventTime() throws Exception {
        config = configWith("double", "");
        String db = config.get(Config.CLICKHOUSE_DATABASE);
        ClickHouseClient server = new ClickHouseClient(TestServices.CLICKHOUSE, null);
        server.execute("CREATE DATABASE " + db);
        server.execute("CREATE TABLE " + db + ".events (event_id String, event_type String, entity_id String, ts Int64,"
                + " amount Nullable(Float64)) ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(toDateTime(intDiv(ts, 1000)))"
                + " ORDER BY (event_type, entity_id, event_id)");
        server.execute("INSERT INTO " + db + ".events VALUES ('old', 'order', 'u1', 1000, 1.5)");
        Path labels = dir.resolve("labels.csv");
        Path out = dir.resolve("training.csv");
        Files.writeString(labels, "user_id,ts\nu1,999\nu1,1000\n");

        int status = Main.commandLine().execute("training-set", "--labels", labels.toString(), "--out", out.toString(),
                "--clickhouse-url=" + config.get(Config.CLICKHOUSE_URL), "--clickhouse-database=" + db,
                "--registry=" + config.path(Config.REGISTRY));

        assertThat(status).isZero();
        assertThat(Files.readString(out)).isEqualTo("user_id,ts,orders\nu1,999,0\nu1,1000,1\n");
        assertThat(server.withDatabase(db).execute("SELECT event_id, ingested_at FROM events FORMAT TabSeparated"))
                .isEqualTo("old\t1000\n");
    }
}
