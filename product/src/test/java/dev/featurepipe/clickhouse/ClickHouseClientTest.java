package dev.featurepipe.clickhouse;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the client sends to a server of a version no test machine here can run (from 21.11 on): a stand-in on
 * loopback that answers {@code SELECT version()} and records each request's query string and user headers.
 */
class ClickHouseClientTest {
    private final List<String> requests = new CopyOnWriteArrayList<>();
    private HttpServer server;

    private ClickHouseClient clientOf(String version) throws Exception {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            String query = URLDecoder.decode(exchange.getRequestURI().getRawQuery(), StandardCharsets.UTF_8);
            requests.add(query + " | " + exchange.getRequestHeaders().getFirst("X-ClickHouse-User") + ":"
                    + exchange.getRequestHeaders().getFirst("X-ClickHouse-Key") + " | " + body);
            byte[] answer = (body.startsWith("SELECT version()") ? version + "\n" : "").getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, answer.length == 0 ? -1 : answer.length);
            exchange.getResponseBody().write(answer);
            exchange.close();
        });
        server.start();
        return new ClickHouseClient(URI.create("http://127.0.0.1:" + server.getAddress().getPort()),
                new ClickHouseClient.Credentials("fp", "s3cret"), "db");
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    @Test
    void everyInsertToACurrentServerPinsAsyncInsertOffAndTheVersionIsAskedOnce() throws Exception {
        ClickHouseClient client = clientOf("24.8.4.13");

        client.insert("INSERT INTO events FORMAT RowBinary", new byte[] {1});
        client.withDatabase("other").insertJsonRows("points", "{}".getBytes(StandardCharsets.UTF_8));
        client.execute("INSERT INTO batch_runs (feature) VALUES ('f')");
        client.execute("SELECT 1");

        assertThat(requests).hasSize(5);
        assertThat(requests.get(0)).contains("SELECT version()").doesNotContain("async_insert");
        assertThat(requests.subList(1, 4)).allSatisfy(r -> assertThat(r).contains("async_insert=0"));
        assertThat(requests.get(4)).as("a query gets no setting: a read-only user may set none").doesNotContain("async_insert");
        assertThat(requests).as("user and password in headers, not in the URL").allSatisfy(r -> {
            assertThat(r).contains(" | fp:s3cret | ");
            assertThat(r.substring(0, r.indexOf(" | "))).doesNotContain("s3cret");
        });
    }

    @Test
    void a1816ServerGetsNoAsyncInsertSetting() throws Exception {
        ClickHouseClient client = clientOf("18.16.1");

        client.insert("INSERT INTO events FORMAT RowBinary", new byte[] {1});
        client.insert("INSERT INTO events FORMAT RowBinary", new byte[] {1});

        assertThat(requests).hasSize(3).noneSatisfy(r -> assertThat(r).contains("async_insert"));
    }
}
