package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.auth.ApiKeys;
import dev.featurepipe.auth.Scope;
import dev.featurepipe.config.Config;
import dev.featurepipe.config.ConfigException;
import dev.featurepipe.config.Setting;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** API keys: 401 without a known key, 403 for the wrong scope or entity, 429 past a key's rate, /healthz open. */
@ExtendWith(TestServices.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class AccessControlIT {
    private static final String REGISTRY = "src/test/resources/registry/access.yaml";
    private final String ingestUsers = ApiKeys.newKey();
    private final String reader = ApiKeys.newKey();
    private final String limited = ApiKeys.newKey();
    private final HttpClient http = HttpClient.newHttpClient();

    @TempDir
    static Path dir;
    private Pipeline pipeline;
    private URI base;

    @BeforeAll
    void start() throws IOException {
        Path keys = dir.resolve("api-keys.txt");
        Files.write(keys, List.of("# the keys of this test",
                ApiKeys.line(ingestUsers, Set.of(Scope.INGEST), Set.of("user"), "ingest-users"),
                ApiKeys.line(reader, Set.of(Scope.READ), Set.of(), "reader"),
                "", ApiKeys.line(limited, Set.of(Scope.READ, Scope.INGEST), Set.of(), "limited")));
        pipeline = Pipeline.start(config(keys, Map.of()), EnumSet.of(Role.INGEST, Role.SERVE), Clock.systemUTC());
        base = URI.create("http://127.0.0.1:" + pipeline.httpPort());
    }

    private static Config config(Path keys, Map<Setting<?>, String> more) {
        Map<Setting<?>, String> settings = new HashMap<>(Map.of(Config.AUTH, "keys",
                Config.API_KEYS_FILE, keys.toString(), Config.RATE_LIMIT, "0.5", Config.RATE_LIMIT_BURST, "3"));
        settings.putAll(more);
        return TestServices.config(REGISTRY, settings);
    }

    @AfterAll
    void stop() {
        pipeline.close();
    }

    private HttpResponse<String> send(String method, String path, String body, String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path)).header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) {
            request.headers(headers);
        }
        try {
            return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String event(String type, String keyField, String id) {
        return "{\"event_id\": \"" + type + "-" + id + "\", \"event_type\": \"" + type + "\", \"" + keyField + "\": \"" + id
                + "\", \"amount\": 2.5}";
    }

    private long refused(String reason) {
        return send("GET", "/metrics", null).body().lines()
                .filter(l -> l.startsWith("featurepipe_http_refused_total{reason=\"" + reason + "\"}"))
                .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    @Test
    void withoutAKnownKeyARequestIs401WithWwwAuthenticate() {
        long before = refused("no_key");
        HttpResponse<String> none = send("GET", "/v1/features/user/u1", null);
        HttpResponse<String> unknown = send("POST", "/v1/events", event("order", "user_id", "u1"), "X-API-Key", "fpk_wrong");
        HttpResponse<String> basic = send("GET", "/v1/features/user/u1", null, "Authorization", "Basic " + reader);

        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
        assertThat(none.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
        assertThat(none.body()).contains("\"error\"", "X-API-Key");
        assertThat(unknown.statusCode()).isEqualTo(401);
        assertThat(unknown.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).contains("invalid_token"));
        assertThat(unknown.body()).doesNotContain("fpk_wrong");
        assertThat(basic.statusCode()).isEqualTo(401);
        assertThat(basic.body()).doesNotContain(reader);
        assertThat(refused("no_key")).isEqualTo(before + 2);
        assertThat(send("GET", "/healthz", null).statusCode()).isEqualTo(200);
    }

    @Test
    void aKeyWithoutTheScopeIs403AndOneWithItIsServed() {
        HttpResponse<String> readWithIngestKey = send("GET", "/v1/features/user/u1", null, "Authorization", "Bearer " + ingestUsers);
        HttpResponse<String> writeWithReadKey = send("POST", "/v1/events", event("order", "user_id", "u2"), "X-API-Key", reader);

        assertThat(readWithIngestKey.statusCode()).isEqualTo(403);
        assertThat(readWithIngestKey.body()).contains("'ingest-users'", "'read'").doesNotContain(ingestUsers);
        assertThat(writeWithReadKey.statusCode()).isEqualTo(403);
        assertThat(writeWithReadKey.body()).contains("'ingest'");
        assertThat(send("POST", "/v1/events", event("order", "user_id", "u2"), "Authorization", "bearer " + ingestUsers)
                .statusCode()).isEqualTo(202);
        assertThat(send("GET", "/v1/features/user/u2", null, "X-API-Key", reader).statusCode()).isEqualTo(200);
        assertThat(refused("scope")).isGreaterThanOrEqualTo(2);
    }

    @Test
    void aKeyLimitedToAnEntityIs403ForAnotherAndNothingOfTheRequestIsWritten() {
        long before = TestServices.streamLength(pipeline);
        String mixed = "[" + event("order", "user_id", "u3") + "," + event("payout", "merchant_id", "m1") + "]";

        HttpResponse<String> refusedWrite = send("POST", "/v1/events", mixed, "X-API-Key", ingestUsers);

        assertThat(refusedWrite.statusCode()).isEqualTo(403);
        assertThat(refusedWrite.body()).contains("'merchant'");
        assertThat(TestServices.streamLength(pipeline)).isEqualTo(before);
        assertThat(refused("entity")).isGreaterThanOrEqualTo(1);
    }

    @Test
    void aReadOfAnEntityTheKeyIsNotLimitedToIs403() throws IOException {
        Path keys = dir.resolve("users-only.txt");
        String usersReader = ApiKeys.newKey();
        Files.write(keys, List.of(ApiKeys.line(usersReader, Set.of(Scope.READ), Set.of("user"), "users-reader")));
        try (Pipeline own = Pipeline.start(config(keys, Map.of()), EnumSet.of(Role.SERVE), Clock.systemUTC())) {
            URI ownBase = URI.create("http://127.0.0.1:" + own.httpPort());
            HttpResponse<String> merchant = sendTo(ownBase, "/v1/features/merchant/m1", null, usersReader);
            HttpResponse<String> many = sendTo(ownBase, "/v1/features", "{\"entity\": \"merchant\", \"ids\": [\"m1\"]}", usersReader);

            assertThat(merchant.statusCode()).isEqualTo(403);
            assertThat(many.statusCode()).isEqualTo(403);
            assertThat(sendTo(ownBase, "/v1/features/user/u1", null, usersReader).statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aKeyAddedOrRevokedInTheFileTakesEffectWithoutARestartAndABadFileChangesNothing() throws IOException {
        Path keys = dir.resolve("rotating.txt");
        String old = ApiKeys.newKey();
        String next = ApiKeys.newKey();
        Files.write(keys, List.of(ApiKeys.line(old, Set.of(Scope.READ), Set.of(), "old")));
        try (Pipeline own = Pipeline.start(config(keys, Map.of()), EnumSet.of(Role.SERVE), Clock.systemUTC())) {
            URI ownBase = URI.create("http://127.0.0.1:" + own.httpPort());
            assertThat(sendTo(ownBase, "/v1/features/user/u1", null, old).statusCode()).isEqualTo(200);
            assertThat(sendTo(ownBase, "/v1/features/user/u1", null, next).statusCode()).isEqualTo(401);

            Files.write(keys, List.of(ApiKeys.line(next, Set.of(Scope.READ), Set.of(), "next")));
            await().atMost(Duration.ofSeconds(10)).until(() -> sendTo(ownBase, "/v1/features/user/u1", null, next).statusCode() == 200);
            assertThat(sendTo(ownBase, "/v1/features/user/u1", null, old).statusCode()).as("revoked").isEqualTo(401);

            Files.write(keys, List.of(ApiKeys.line(old, Set.of(Scope.READ), Set.of(), "old"), "sha256:nothex scopes=read"));
            await().atMost(Duration.ofSeconds(10)).until(() -> sendTo(ownBase, "/v1/features/user/u1", null, next).statusCode() == 200
                    && sendTo(ownBase, "/metrics", null, next).body().contains("featurepipe_auth_keys_reloads_total{outcome=\"refused\"} 1.0"));
            assertThat(sendTo(ownBase, "/v1/features/user/u1", null, old).statusCode()).isEqualTo(401);
        }
    }

    private HttpResponse<String> sendTo(URI to, String path, String body, String key) {
        URI saved = base;
        base = to;
        try {
            return send(body == null ? "GET" : "POST", path, body, "X-API-Key", key);
        } finally {
            base = saved;
        }
    }

    @Test
    void aKeyPastItsRateIs429WithRetryAfter() {
        HttpResponse<String> last = null;
        for (int i = 0; i < 10 && (last == null || last.statusCode() != 429); i++) {
            last = send("GET", "/v1/features/user/u1", null, "X-API-Key", limited);
        }

        assertThat(last.statusCode()).isEqualTo(429);
        assertThat(Integer.parseInt(last.headers().firstValue("Retry-After").orElseThrow())).isBetween(1, 2);
        assertThat(last.body()).contains("'limited'", "FP_RATE_LIMIT");
        assertThat(refused("rate")).isGreaterThanOrEqualTo(1);
    }

    @Test
    void keysRequiredWithoutAKeysFileStopTheStartWithWhatToDo() {
        Path missing = dir.resolve("no-such-file.txt");
        assertThatThrownBy(() -> Pipeline.start(config(missing, Map.of()), EnumSet.of(Role.SERVE), Clock.systemUTC()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("FP_API_KEYS_FILE").hasMessageContaining("./fp api-key new")
                .hasMessageContaining("FP_AUTH=off");
    }

    @Test
    void monitoringNeedsAnAdminKeyWhenSoConfigured() throws IOException {
        Path keys = dir.resolve("admin.txt");
        String admin = ApiKeys.newKey();
        Files.write(keys, List.of(ApiKeys.line(admin, Set.of(Scope.ADMIN), Set.of(), "admin"),
                ApiKeys.line(reader, Set.of(Scope.READ), Set.of(), "reader")));
        try (Pipeline own = Pipeline.start(config(keys, Map.of(Config.AUTH_MONITORING, "admin")), EnumSet.of(Role.SERVE),
                Clock.systemUTC())) {
            URI ownBase = URI.create("http://127.0.0.1:" + own.httpPort());
            assertThat(sendTo(ownBase, "/metrics", null, reader).statusCode()).isEqualTo(403);
            assertThat(sendTo(ownBase, "/metrics", null, admin).statusCode()).isEqualTo(200);
            assertThat(sendTo(ownBase, "/v1/features/user/u1", null, admin).statusCode()).isEqualTo(200);
            URI saved = base;
            base = ownBase;
            try {
                assertThat(send("GET", "/readyz", null).statusCode()).isEqualTo(401);
                assertThat(send("GET", "/healthz", null).statusCode()).isEqualTo(200);
            } finally {
                base = saved;
            }
        }
    }
}
