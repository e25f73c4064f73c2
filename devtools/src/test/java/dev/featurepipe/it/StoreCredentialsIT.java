package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import dev.featurepipe.config.Setting;
import dev.featurepipe.core.StoreUnavailableException;
import dev.featurepipe.mongo.MongoConnection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The pipeline on Redis servers that ask for credentials: a password ({@code requirepass}), an ACL user, and TLS
 * with a self-signed certificate trusted through FP_REDIS_TLS_CA. Each carries an event from ingest to serving.
 */
@ExtendWith(TestServices.class)
@Timeout(180)
class StoreCredentialsIT {
    private static final String REGISTRY = "src/test/resources/registry/it.yaml";
    private static final int PORT = 16379 + TestServices.OFFSET + 111;
    private static final String PASSWORD = "pw-4f9a";

    @Test
    void aRedisWithAPasswordIsUsedWithItAndRefusedWithoutIt() throws Exception {
        try (ExtraRedis redis = ExtraRedis.start(PORT, List.of("--requirepass", PASSWORD))) {
            assertServes("redis://:" + PASSWORD + "@127.0.0.1:" + PORT, Map.of());
            assertRefused("redis://:wrong@127.0.0.1:" + PORT, "WRONGPASS");
            assertRefused("redis://127.0.0.1:" + PORT, "NOAUTH");
        }
    }

    @Test
    void aRedisAclUserIsUsedByNameAndPassword() throws Exception {
        try (ExtraRedis redis = ExtraRedis.start(PORT + 1, List.of("--user", "default", "off",
                "--user", "fp", "on", ">" + PASSWORD, "~*", "&*", "+@all"))) {
            assertServes("redis://fp:" + PASSWORD + "@127.0.0.1:" + (PORT + 1), Map.of());
            assertRefused("redis://other:" + PASSWORD + "@127.0.0.1:" + (PORT + 1), "WRONGPASS");
        }
    }

    @Test
    void aRedisOverTlsIsUsedWhenItsCertificateIsTrusted() throws Exception {
        Path dir = Files.createDirectories(Path.of("target/redis-tls").toAbsolutePath());
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        run(List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key.toString(), "-out", cert.toString()));
        try (ExtraRedis redis = ExtraRedis.start(PORT + 2, List.of("--port", "0", "--tls-port", Integer.toString(PORT + 2),
                "--tls-cert-file", cert.toString(), "--tls-key-file", key.toString(), "--tls-ca-cert-file", cert.toString(),
                "--tls-auth-clients", "no", "--requirepass", PASSWORD))) {
            String url = "rediss://:" + PASSWORD + "@127.0.0.1:" + (PORT + 2);
            assertServes(url, Map.of(Config.REDIS_TLS_CA, cert.toString()));
            assertRefused(url, "unable to find valid certification path"); // the JVM's authorities do not know the self-signed certificate
        }
    }

    /**
     * The URI's credentials go to the driver, which logs in with them; the MongoDB-protocol server of the tests has
     * no users, so the login fails there (a real MongoDB checks them).
     */
    @Test
    void mongoCredentialsInTheUriAreSentToTheServerWhichTheEmbeddedOneCannotCheck() {
        String host = "127.0.0.1:" + TestServices.MONGO_PORT + "/?serverSelectionTimeoutMS=1000";
        try (MongoConnection anonymous = MongoConnection.open("mongodb://" + host, "it_credentials");
             MongoConnection login = MongoConnection.open("mongodb://fp:" + PASSWORD + "@" + host, "it_credentials")) {
            assertThat(anonymous.ping()).isTrue();
            assertThat(login.ping()).as("the embedded server answers no login").isFalse();
        }
    }

    /** An event posted to a pipeline on this Redis is served back. */
    private static void assertServes(String redisUrl, Map<Setting<?>, String> more) {
        Map<Setting<?>, String> settings = new HashMap<>(more);
        settings.put(Config.REDIS_URL, redisUrl);
        try (Pipeline pipeline = Pipeline.start(TestServices.config(REGISTRY, settings),
                EnumSet.of(Role.INGEST, Role.ONLINE, Role.SERVE), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            assertThat(api.post("/v1/events", "application/json", "{\"event_id\": \"c1\", \"event_type\": \"order\","
                    + " \"user_id\": \"u1\", \"amount\": 2.5, \"sku\": \"k\"}").status()).isEqualTo(202);
            await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/v1/features/user/u1?features=orders_1h").body()
                    .path("features").path("orders_1h").asLong() == 1);
        }
    }

    /** A pipeline on this Redis does not start, and says why without the password. */
    private static void assertRefused(String redisUrl, String reason) {
        assertThatThrownBy(() -> Pipeline.start(TestServices.config(REGISTRY, Map.of(Config.REDIS_URL, redisUrl,
                Config.REDIS_TLS_CA, "system")), EnumSet.of(Role.INGEST), Clock.systemUTC()).close())
                .isInstanceOf(StoreUnavailableException.class)
                .satisfies(e -> assertThat(e.getMessage()).contains(reason).doesNotContain(PASSWORD));
    }

    private static void run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
    }
}
