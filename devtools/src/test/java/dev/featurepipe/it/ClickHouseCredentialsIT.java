package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.FeaturepipeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A ClickHouse user with a password: the wrong password stops the start with a message naming the user and not
 * the password; the right one runs the offline role, whose rows arrive as that user.
 */
@ExtendWith(TestServices.class)
@Timeout(120)
class ClickHouseCredentialsIT {
    private final String user = "fp_it_" + UUID.randomUUID().toString().substring(0, 8);
    private final String password = "pw-" + UUID.randomUUID();
    private Path usersFile;
    private Config config;

    @BeforeEach
    void addUser() throws Exception {
        usersFile = TestServices.clickhouseUsersDir().resolve(user + ".xml");
        Files.writeString(usersFile, """
                <?xml version="1.0"?>
                <yandex><users><%1$s>
                    <password>%2$s</password>
                    <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
                    <profile>default</profile>
                    <quota>default</quota>
                </%1$s></users></yandex>
                """.formatted(user, password));
        ClickHouseClient asUser = new ClickHouseClient(TestServices.CLICKHOUSE, new ClickHouseClient.Credentials(user, password), null);
        await("the server reloads its users").atMost(Duration.ofSeconds(30)).ignoreExceptions()
                .until(() -> asUser.execute("SELECT 1").strip().equals("1"));
        config = TestServices.config("src/test/resources/registry/batch.yaml", Map.of(Config.CLICKHOUSE_USER, user));
    }

    @AfterEach
    void removeUser() throws Exception {
        new ClickHouseClient(TestServices.CLICKHOUSE, null).execute("DROP DATABASE IF EXISTS " + config.get(Config.CLICKHOUSE_DATABASE));
        Files.deleteIfExists(usersFile);
    }

    @Test
    void theWrongPasswordStopsTheStartNamingTheUserButNotThePassword() {
        String wrong = "not-" + password;
        assertThatThrownBy(() -> Pipeline.start(config.with(Map.of(Config.CLICKHOUSE_PASSWORD, wrong)), Set.of(Role.OFFLINE),
                Clock.systemUTC()).close())
                .isInstanceOf(FeaturepipeException.class)
                .hasMessageContaining("refused the user '" + user + "' (FP_CLICKHOUSE_USER, FP_CLICKHOUSE_PASSWORD)")
                .hasMessageNotContaining(wrong).hasMessageNotContaining(password);
    }

    @Test
    void theRightPasswordRunsTheOfflineRole() {
        try (Pipeline pipeline = Pipeline.start(config.with(Map.of(Config.CLICKHOUSE_PASSWORD, password)), Set.of(Role.OFFLINE),
                Clock.systemUTC())) {
            pipeline.stores().eventLog().append(List.of(new Event("o1", "order", "u1", System.currentTimeMillis(),
                    Map.of("amount", 3.0))));
            await().atMost(Duration.ofSeconds(30)).until(() -> pipeline.offlineTable().countEvents() == 1);
            assertThat(pipeline.offlineTable().query("SELECT user FROM system.processes FORMAT TabSeparated").strip())
                    .as("the query runs as the configured user").isEqualTo(user);
        }
    }
}
