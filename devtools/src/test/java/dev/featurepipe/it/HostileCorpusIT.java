package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.config.Config;
import dev.featurepipe.config.Setting;
import dev.featurepipe.hostile.CorpusGenerator;
import dev.featurepipe.hostile.HostileCase;
import dev.featurepipe.redis.DeadLetterStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sends every request of the hostile corpus ({@code hostile/corpus.jsonl.gz}, written by {@link CorpusGenerator}) to a
 * whole pipeline on the real servers: each must be answered with a 4xx (the one the case expects) and a JSON error,
 * never a 5xx or an HTML page; afterwards nothing was written (no stream entry, no dead letter, no ClickHouse row),
 * the process is healthy and ready, and a valid event still goes all the way through.
 */
@ExtendWith(TestServices.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(600)
class HostileCorpusIT {
    private static final List<String> KEY_NAMES = List.of("all", "ingest", "read", "admin");

    private final ObjectMapper json = new ObjectMapper();
    private final Map<String, String> secrets = new HashMap<>();
    private Config config;
    private Pipeline pipeline;
    private RawRequests http;
    private Written before;

    /** What the pipeline has written: stream entries ever added, dead letters, ClickHouse rows. */
    record Written(long streamEntries, long deadLetters, long offlineRows) {
    }

    @BeforeAll
    void start(@TempDir Path dir) throws IOException {
        Map<Setting<?>, String> settings = new HashMap<>();
        CorpusGenerator.SETTINGS.forEach((name, value) -> settings.put(setting(name).orElseThrow(), value));
        if (setting("FP_AUTH").isPresent()) {
            settings.put(setting("FP_AUTH").get(), "keys");
            settings.put(setting("FP_API_KEYS_FILE").get(), writeKeys(dir.resolve("api-keys.txt")).toString());
            setting("FP_RATE_LIMIT").ifPresent(s -> settings.put(s, "0"));
        }
        secrets.put("unknown", "fp_" + UUID.randomUUID().toString().replace("-", ""));
        config = TestServices.config("../registry/retail.yaml", settings);
        pipeline = Pipeline.start(config, EnumSet.allOf(Role.class), Clock.systemUTC());
        http = new RawRequests(pipeline.httpPort());
        await().atMost(Duration.ofSeconds(60)).until(() -> get("/readyz").status() == 200);
        before = written();
    }

    @AfterAll
    void stop() {
        if (pipeline != null) {
            pipeline.close();
        }
        new ClickHouseClient(TestServices.CLICKHOUSE, null).execute("DROP DATABASE IF EXISTS " + config.get(Config.CLICKHOUSE_DATABASE));
    }

    @TestFactory
    @Order(1)
    Stream<DynamicTest> everyCaseIsRefusedWithAJsonClientError() throws IOException {
        List<HostileCase> corpus = corpus();
        assertThat(corpus).hasSizeGreaterThanOrEqualTo(500);
        return corpus.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            Assumptions.assumeTrue(c.requires() == null || setting(c.requires()).isPresent(),
                    () -> "refused only where " + c.requires() + " exists");
            RawRequests.Answer answer = http.send(bytes(c));
            String seen = answer.statusLine() + " " + answer.headers().get("content-type") + " " + abbreviate(answer.text());
            if (c.anyClientError()) {
                assertThat(answer.status()).as(seen).isBetween(400, 499);
            } else {
                assertThat(answer.status()).as(seen).isEqualTo(Integer.parseInt(c.expect()));
            }
            assertThat(answer.headers().get("content-type")).as(seen).startsWith("application/json");
            JsonNode body = json.readTree(answer.body());
            assertThat(body.isObject() && body.path("error").isTextual()).as(seen).isTrue();
        }));
    }

    @Test
    @Order(2)
    void nothingWasWrittenAndTheProcessIsHealthyAndServes() throws IOException {
        String customer = "c-marker-" + UUID.randomUUID();
        String event = json.createObjectNode().put("event_id", "marker-" + customer).put("event_type", "purchase")
                .put("customer_id", customer).put("invoice", "536365").put("stock_code", "85123A").put("quantity", 6)
                .put("unit_price", 2.55).put("amount", "15.30").toString();
        RawRequests.Answer accepted = http.send(http.request("POST", "/v1/events", Map.of("Content-Type", "application/json",
                "Authorization", "Bearer " + secrets.getOrDefault("all", "")), event.getBytes(StandardCharsets.UTF_8)));
        assertThat(accepted.status()).as(accepted.text()).isEqualTo(202);

        // the marker reaching ClickHouse and the online store means both groups read past every case before it
        await().atMost(Duration.ofSeconds(60)).until(() -> written().offlineRows() > before.offlineRows());
        await().atMost(Duration.ofSeconds(60)).until(() ->
                json.readTree(get("/v1/features/customer/" + customer + "?features=lines_24h").body())
                        .at("/features/lines_24h").asLong() == 1);
        assertThat(written()).isEqualTo(new Written(before.streamEntries() + 1, before.deadLetters(), before.offlineRows() + 1));
        assertThat(get("/healthz").status()).isEqualTo(200);
        RawRequests.Answer ready = get("/readyz");
        assertThat(ready.status()).as(ready.text()).isEqualTo(200);
    }

    private List<HostileCase> corpus() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/hostile/corpus.jsonl.gz")) {
            return HostileCase.parseAll(HostileCase.read(in));
        }
    }

    /** The case's bytes, with the secret of its key in place of {@value HostileCase#KEY}. */
    private byte[] bytes(HostileCase c) {
        String secret = secrets.getOrDefault(c.key(), "");
        if (c.isRaw()) {
            return replace(c.rawBytes(), HostileCase.KEY.getBytes(StandardCharsets.US_ASCII), secret.getBytes(StandardCharsets.US_ASCII));
        }
        Map<String, String> headers = new LinkedHashMap<>();
        c.headers().forEach((k, v) -> headers.put(k, v.replace(HostileCase.KEY, secret)));
        return http.request(c.method(), c.path().replace(HostileCase.KEY, secret), headers, c.bodyBytes());
    }

    private RawRequests.Answer get(String path) throws IOException {
        return http.send(http.request("GET", path, secrets.containsKey("all")
                ? Map.of("Authorization", "Bearer " + secrets.get("all")) : Map.of(), new byte[0]));
    }

    /** What the stores hold, summed over the shards. */
    private Written written() {
        long added = 0;
        long deadLetters = 0;
        for (String stream : pipeline.stores().shards().streams()) {
            List<Object> info = pipeline.redis().shared().sync().xinfoStream(stream);
            for (int i = 0; i + 1 < info.size(); i += 2) {
                if ("entries-added".equals(info.get(i))) {
                    added += (Long) info.get(i + 1);
                }
            }
            deadLetters += new DeadLetterStream(pipeline.redis(), stream).size();
        }
        long rows = Long.parseLong(pipeline.offlineTable().query("SELECT count() FROM events FORMAT TabSeparated").trim());
        return new Written(added, deadLetters, rows);
    }

    /** A key file in the format of FP_API_KEYS_FILE: one key per scope, and one with every scope. */
    private Path writeKeys(Path file) throws IOException {
        StringBuilder lines = new StringBuilder();
        for (String name : KEY_NAMES) {
            String secret = "fp_" + name + "_" + UUID.randomUUID().toString().replace("-", "");
            secrets.put(name, secret);
            lines.append("sha256:").append(sha256(secret)).append(" scopes=")
                    .append(name.equals("all") ? "ingest,read,admin" : name).append(" name=").append(name).append('\n');
        }
        return Files.writeString(file, lines);
    }

    private static String sha256(String secret) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The setting of this build with that FP_* name, if it has one. */
    private static Optional<Setting<?>> setting(String env) {
        return Config.ALL.stream().filter(s -> s.env().equals(env)).findFirst();
    }

    private static byte[] replace(byte[] data, byte[] pattern, byte[] with) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < data.length; ) {
            if (i <= data.length - pattern.length && java.util.Arrays.equals(data, i, i + pattern.length, pattern, 0, pattern.length)) {
                out.writeBytes(with);
                i += pattern.length;
            } else {
                out.write(data[i++]);
            }
        }
        return out.toByteArray();
    }

    private static String abbreviate(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }
}
