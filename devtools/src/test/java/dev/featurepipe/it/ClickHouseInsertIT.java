package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.registry.RegistryLoader;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * On the test server, 18.16, which refuses a setting it does not know: inserts go without {@code async_insert}
 * (a server from 21.11 gets {@code async_insert=0}, see ClickHouseVersionTest) and are written.
 */
@ExtendWith(TestServices.class)
@Timeout(60)
class ClickHouseInsertIT {
    @Test
    void insertsIntoA1816ServerAreWrittenWithoutTheSettingItDoesNotKnow() {
        Config config = TestServices.config("src/test/resources/registry/batch.yaml", Map.of());
        ClickHouseClient server = new ClickHouseClient(config.get(Config.CLICKHOUSE_URL), null);
        assertThat(server.execute("SELECT version()").strip()).startsWith("18.16.");
        assertThatThrownBy(() -> server.execute("SELECT 1 SETTINGS async_insert = 0"))
                .as("why the setting must not be sent to it").hasMessageContaining("Unknown setting async_insert");
        ClickHouseEventTable events = new ClickHouseEventTable(server, config.get(Config.CLICKHOUSE_DATABASE),
                RegistryLoader.load(Path.of("src/test/resources/registry/batch.yaml")));
        events.ensureSchema();
        try {
            events.insert(LoggedEvent.asHistory(List.of(new Event("o1", "order", "u1", 1_000, Map.of("amount", 1.0)),
                    new Event("o2", "order", "u1", 2_000, Map.of("amount", 2.0)))));
            server.withDatabase(config.get(Config.CLICKHOUSE_DATABASE))
                    .execute("INSERT INTO events (event_id, event_type, entity_id, ts, amount) VALUES ('o3', 'order', 'u2', 3000, 3)");

            assertThat(events.countEvents()).isEqualTo(3);
        } finally {
            server.execute("DROP DATABASE IF EXISTS " + config.get(Config.CLICKHOUSE_DATABASE));
        }
    }
}
