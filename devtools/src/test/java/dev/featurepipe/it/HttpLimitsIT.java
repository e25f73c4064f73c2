package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import dev.featurepipe.config.Setting;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The HTTP limits: bodies read as streams with their limits checked while they are read, the header and URI
 * sizes, the bound on requests in flight, and every refusal, Jetty's own included, as the API's JSON error.
 */
@ExtendWith(TestServices.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class HttpLimitsIT {
    private static final Path JAR = Path.of("target/featurepipe-dev.jar").toAbsolutePath();
    private static final String REGISTRY = "src/test/resources/registry/it.yaml";

    private Pipeline pipeline;
    private Api api;
    private int port;

    @BeforeAll
    void start() {
        pipeline = Pipeline.start(TestServices.config(REGISTRY, Map.of(Config.HTTP_MAX_BODY_MB, "1",
                Config.INGEST_MAX_EVENTS, "3", Config.HTTP_MAX_URI_KB, "2", Config.HTTP_MAX_HEADER_KB, "4",
                Config.HTTP_BODY_TIMEOUT, "2s")),
                EnumSet.of(Role.INGEST, Role.SERVE), Clock.systemUTC());
        port = pipeline.httpPort();
        api = new Api(port);
    }

    @AfterAll
    void stop() {
        pipeline.close();
    }

    private static String event(int i, String sku) {
        return "{\"event_id\": \"e" + i + "\", \"event_type\": \"order\", \"user_id\": \"u1\", \"amount\": 1.5, \"sku\": \"" + sku + "\"}";
    }

    private long refused(String reason) {
        return api.getText("/metrics").lines().filter(l -> l.startsWith("featurepipe_http_refused_total{reason=\"" + reason + "\"}"))
                .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    /** The API's error: the status, JSON, an error message and a details array. */
    private static void assertJsonError(RawHttp.Answer answer, int status, String inMessage) {
        assertThat(answer.status()).as(answer.body()).isEqualTo(status);
        assertThat(answer.headers().get("content-type")).startsWith("application/json");
        assertThat(answer.json().get("error").asText()).contains(inMessage);
        assertThat(answer.json().get("details").isArray()).isTrue();
    }

    @Test
    void oneEventTooManyIs413AndCounted() {
        long before = refused("too_many_events");
        String body = "[" + String.join(",", event(1, "a"), event(2, "a"), event(3, "a"), event(4, "a")) + "]";

        Api.Reply reply = api.post("/v1/events", "application/json", body);

        assertThat(reply.status()).isEqualTo(413);
        assertThat(reply.body().get("error").asText()).contains("more than 3 events", "FP_INGEST_MAX_EVENTS");
        assertThat(refused("too_many_events")).isEqualTo(before + 1);
        assertThat(TestServices.streamLength(pipeline)).isZero();
    }

    @Test
    void aBodyOverTheSizeLimitIs413WhileItIsReadWithOrWithoutALength() {
        long before = refused("body_too_large");
        String pad = String.join(",", Collections.nCopies(600, "\"" + "x".repeat(4000) + "\""));
        byte[] body = ("[{\"event_id\": \"e1\", \"event_type\": \"order\", \"pad\": [" + pad + "]}]")
                .getBytes(StandardCharsets.UTF_8); // 2.4 MB, over the 1 MiB limit
        byte[] chunkedHead = ("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);

        RawHttp.Answer chunked = RawHttp.send(port, chunkedHead, out -> {
            for (int from = 0; from < body.length; from += 8192) {
                int n = Math.min(8192, body.length - from);
                out.write((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                out.write(body, from, n);
                out.write("\r\n".getBytes(StandardCharsets.ISO_8859_1));
            }
            out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        });
        RawHttp.Answer declared = RawHttp.send(port, "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length + "\r\n\r\n"); // refused on its length: no body sent at all

        assertJsonError(chunked, 413, "FP_HTTP_MAX_BODY_MB");
        assertJsonError(declared, 413, "FP_HTTP_MAX_BODY_MB");
        assertThat(refused("body_too_large")).isEqualTo(before + 2);
    }

    @Test
    void aBodyTrickledPastTheBodyTimeoutIs408AndNothingIsWritten() {
        long before = refused("body_too_slow");
        byte[] body = event(1, "slow").getBytes(StandardCharsets.UTF_8); // about 90 bytes: 9 s at 10 bytes a second
        byte[] head = ("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                + body.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);

        RawHttp.Answer answer = RawHttp.send(port, head, out -> {
            for (byte b : body) {
                out.write(b);
                out.flush();
                Sleep.millis(100);
            }
        });

        assertJsonError(answer, 408, "FP_HTTP_BODY_TIMEOUT");
        assertThat(refused("body_too_slow")).isEqualTo(before + 1);
        assertThat(TestServices.streamLength(pipeline)).isZero();
    }

    @Test
    void aTransferCodingOtherThanChunkedIs415AndNothingIsWritten() {
        byte[] body = event(1, "coded").getBytes(StandardCharsets.UTF_8);
        byte[] head = ("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: gzip, chunked\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);

        RawHttp.Answer answer = RawHttp.send(port, head, out -> {
            out.write((Integer.toHexString(body.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.write(body);
            out.write("\r\n0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        });

        assertJsonError(answer, 415, "Transfer-Encoding 'gzip, chunked'");
        assertThat(TestServices.streamLength(pipeline)).isZero();
    }

    @Test
    void jettysOwnRefusalsAreTheApisJsonError() {
        String uri = "/v1/features/user/" + "u".repeat(3000);
        assertJsonError(RawHttp.send(port, "GET " + uri + " HTTP/1.1\r\nHost: x\r\n\r\n"), 414, "FP_HTTP_MAX_URI_KB");
        String longer = "/v1/features/user/" + "u".repeat(5000);
        assertJsonError(RawHttp.send(port, "GET " + longer + " HTTP/1.1\r\nHost: x\r\n\r\n"), 414, "FP_HTTP_MAX_URI_KB");
        assertJsonError(RawHttp.send(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(5000) + "\r\n\r\n"),
                431, "FP_HTTP_MAX_HEADER_KB");
        assertJsonError(RawHttp.send(port, "GET /v1/features/user/a\u0000b HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "Bad Request");
        assertJsonError(RawHttp.send(port, "GET /v1/features/user/a%00b HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "malformed");
        assertJsonError(RawHttp.send(port, "GET /v1/features/user/a%zzb HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "malformed");
        assertJsonError(RawHttp.send(port, "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n"), 400,
                "Content-Length");
        assertJsonError(RawHttp.send(port, "GET /healthz HTTP/1.1\r\n\r\n"), 400, "Host");
        assertJsonError(RawHttp.send(port, "DELETE /v1/events HTTP/1.1\r\nHost: x\r\n\r\n"), 404, "DELETE");
    }

    @Test
    void requestsBeyondTheInFlightBoundGet503WithRetryAfter() throws Exception {
        try (Pipeline bounded = Pipeline.start(TestServices.config(REGISTRY, Map.of(Config.HTTP_MAX_IN_FLIGHT, "1")),
                EnumSet.of(Role.INGEST, Role.SERVE), Clock.systemUTC());
             Socket held = new Socket("127.0.0.1", bounded.httpPort())) {
            Api client = new Api(bounded.httpPort());
            String body = "[" + event(1, "a") + "]";
            OutputStream out = held.getOutputStream();
            out.write(("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    + "Content-Length: " + body.length() + "\r\n\r\n" + body.substring(0, 10)).getBytes(StandardCharsets.UTF_8));
            out.flush(); // the request waits for the rest of its body: it is in flight

            List<Api.Reply> refusedReplies = new ArrayList<>();
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                Api.Reply reply = client.get("/v1/features/user/u1");
                refusedReplies.add(reply);
                return reply.status() == 503;
            });
            Api.Reply refused = refusedReplies.get(refusedReplies.size() - 1);
            assertThat(refused.headers().firstValue("Retry-After")).contains("1");
            assertThat(refused.body().get("error").asText()).contains("FP_HTTP_MAX_IN_FLIGHT");
            assertThat(client.get("/healthz").status()).isEqualTo(200);

            out.write(body.substring(10).getBytes(StandardCharsets.UTF_8));
            out.flush();
            String status = new BufferedReader(new InputStreamReader(held.getInputStream(), StandardCharsets.UTF_8)).readLine();
            assertThat(status).contains("202");
            await().atMost(Duration.ofSeconds(10)).until(() -> client.get("/v1/features/user/u1").status() == 200);
            assertThat(client.getText("/metrics")).contains("featurepipe_http_refused_total{reason=\"in_flight\"}");
        }
    }

    /**
     * A body just under the size limit full of tiny events, sent to a process with a 96 MB heap: refused with 413
     * at the event after the limit, and the process stays up. Parsed whole, the 11 million empty objects need
     * several hundred MB.
     */
    @Test
    void aBodyOfMillionsOfTinyEventsIsRefusedWithinASmallHeap() throws Exception {
        assertThat(Files.exists(JAR)).as(JAR + " (built by mvn package)").isTrue();
        int processPort;
        try (ServerSocket free = new ServerSocket(0)) {
            processPort = free.getLocalPort();
        }
        Config config = TestServices.config(REGISTRY, Map.of());
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx96m", "-XX:+ExitOnOutOfMemoryError", "-jar", JAR.toString(), "run", "--roles", "ingest",
                "--http-port=" + processPort, "--auth=off", "--registry=" + Path.of(REGISTRY).toAbsolutePath()));
        for (Setting<?> s : List.of(Config.REDIS_URL, Config.STREAM, Config.STREAM_SHARDS)) {
            command.add(s.flag() + "=" + config.get(s));
        }
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(Path.of("target/tiny-events.log").toFile())).start();
        try {
            Api client = new Api(processPort);
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> client.get("/healthz").status() == 200);
            long size = 32L * 1024 * 1024 - 16;
            byte[] head = ("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + size + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
            long t0 = System.nanoTime();
            RawHttp.Answer answer = RawHttp.send(processPort, head, out -> {
                byte[] chunk = "{},".repeat(8192).getBytes(StandardCharsets.ISO_8859_1);
                out.write('[');
                long left = size - 2;
                while (left > 0) {
                    int n = (int) Math.min(chunk.length, left);
                    out.write(chunk, 0, n);
                    left -= n;
                }
                out.write(']');
            });
            System.out.printf("tiny events: %d answered in %.0f ms%n", answer.status(), (System.nanoTime() - t0) / 1e6);

            assertJsonError(answer, 413, "FP_INGEST_MAX_EVENTS");
            assertThat(client.get("/healthz").status()).isEqualTo(200);
            assertThat(process.isAlive()).isTrue();
        } finally {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }
}
