package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** The MongoDB-protocol server runs only when asked: a configured MongoDB that does not answer is not replaced. */
@ExtendWith(TestServices.class)
@Timeout(60)
class MongoConnectionIT {
    private static final String REGISTRY = "src/test/resources/registry/it.yaml";

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void aMongoDbThatDoesNotAnswerMakesProfilesUnavailableAndReadyzFailAndNothingIsStartedInItsPlace() throws IOException {
        int port = freePort();
        Config config = TestServices.config(REGISTRY, Map.of(Config.MONGO_URI,
                "mongodb://127.0.0.1:" + port + "/?serverSelectionTimeoutMS=300"));
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.SERVE), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            Api.Reply ready = api.get("/readyz");
            assertThat(ready.status()).isEqualTo(503);
            assertThat(ready.body().get("stores").get("mongodb").asBoolean()).isFalse();
            Api.Reply served = api.get("/v1/features/user/u1?features=country,orders_1h");
            assertThat(served.status()).isEqualTo(200);
            assertThat(served.body().get("status").get("country").asText()).isEqualTo("unavailable");
            assertThat(served.body().get("status").get("orders_1h").asText()).isNotEqualTo("unavailable");
            assertThat(listening(port)).as("no server started at the configured address").isFalse();
        }
    }

    @Test
    void embeddedKeepsProfilesInAServerOfTheProcess() {
        Config config = TestServices.config(REGISTRY, Map.of(Config.MONGO_URI, "embedded"));
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST, Role.ONLINE, Role.SERVE), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/readyz").status() == 200);
            assertThat(api.postJson("/v1/events", List.of(Map.of("event_id", "e1", "event_type", "order", "user_id", "u1",
                    "amount", 3.0, "sku", "a", "country", "PT"))).status()).isEqualTo(202);
            await().atMost(Duration.ofSeconds(30)).until(() -> "PT".equals(
                    api.get("/v1/features/user/u1?features=country").body().get("features").path("country").asText(null)));
        }
    }
}
