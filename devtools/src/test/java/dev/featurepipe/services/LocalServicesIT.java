package dev.featurepipe.services;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoCollection;
import dev.featurepipe.it.TestFiles;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.bson.Document;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Starts real Redis and ClickHouse and the Mongo stand-in on test ports, stops them, restarts them. */
class LocalServicesIT {
    private static final int REDIS_PORT = 26379;
    private static final int CH_HTTP_PORT = 28123;
    private static final int CH_TCP_PORT = 29000;
    private static final int MONGO_PORT = 27117;
    private static final String REDIS_URL = "redis://127.0.0.1:" + REDIS_PORT;
    private static final String CH_URL = "http://127.0.0.1:" + CH_HTTP_PORT;
    private static final String MONGO_URI = "mongodb://127.0.0.1:" + MONGO_PORT;
    private static final ServiceAddresses ADDRESSES =
            new ServiceAddresses(URI.create(REDIS_URL), URI.create(CH_URL), CH_TCP_PORT, MONGO_URI);
    private static final Path DATA_DIR = Path.of("target", "it-local-services").toAbsolutePath();

    private final ByteArrayOutputStream output = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(output, true, StandardCharsets.UTF_8);
    private LocalServices services;

    @BeforeEach
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void freshDataDir() throws IOException {
        new LocalServices(ADDRESSES, DATA_DIR, out).down(); // leftovers of an aborted earlier run
        TestFiles.deleteRecursively(DATA_DIR);
        output.reset();
        services = new LocalServices(ADDRESSES, DATA_DIR, out);
    }

    @AfterEach
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void stopEverything() {
        services.down();
        System.out.print(output.toString(StandardCharsets.UTF_8));
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void upIsIdempotentDownStopsAndDataSurvivesRestart() throws Exception {
        services.up();
        List<ServiceStatus> first = services.status();
        assertThat(first).extracting(ServiceStatus::name).containsExactly("redis", "clickhouse", "mongo");
        assertThat(first).extracting(ServiceStatus::address)
                .containsExactly("127.0.0.1:26379", "127.0.0.1:28123", "127.0.0.1:27117");
        assertThat(first).allSatisfy(s -> {
            assertThat(s.answering()).as(s.name() + " answering").isTrue();
            assertThat(s.pid()).as(s.name() + " pid").isNotNull().isNotEqualTo(ProcessHandle.current().pid());
        });
        Map<String, Long> pids = pids(first);
        for (int port : List.of(REDIS_PORT, CH_HTTP_PORT, CH_TCP_PORT, MONGO_PORT)) {
            // what the kernel says each listens on: a loopback address only, never 0.0.0.0 or ::
            assertThat(ListeningSockets.addresses(port)).as("listening on port " + port).isNotEmpty()
                    .allSatisfy(a -> assertThat(a.isLoopbackAddress()).as(a + ":" + port).isTrue());
            assertThat(connects(new InetSocketAddress("127.0.0.1", port))).as("port " + port).isTrue();
        }
        assertThat(Files.readString(DATA_DIR.resolve("mongo/mongo.pid")).trim())
                .isEqualTo(String.valueOf(pids.get("mongo")));
        assertThat(DATA_DIR.resolve("clickhouse/config.xml")).content().contains("<yandex>", "<listen_host>127.0.0.1<");
        assertThat(ProcessHandle.of(pids.get("mongo")).orElseThrow().info().commandLine().orElse(""))
                .contains("LocalMongoServer");

        output.reset();
        services.up();
        assertThat(output.toString(StandardCharsets.UTF_8))
                .contains("already running (pid " + pids.get("redis") + ")")
                .contains("already running (pid " + pids.get("clickhouse") + ")")
                .contains("already running (pid " + pids.get("mongo") + ")")
                .doesNotContain("started");
        assertThat(pids(services.status())).isEqualTo(pids);

        redisSet("it:key", "survives");
        clickhouse("CREATE TABLE it_restart (x UInt32) ENGINE = MergeTree ORDER BY x");
        clickhouse("INSERT INTO it_restart VALUES (40), (2)");
        try (MongoClient client = MongoClients.create(MONGO_URI)) {
            profiles(client).insertOne(new Document("_id", "user-1").append("score", 7));
        }

        output.reset();
        services.down();
        assertThat(output.toString(StandardCharsets.UTF_8)).contains("stopped (pid " + pids.get("mongo") + ")");
        assertThat(services.status()).allSatisfy(s -> {
            assertThat(s.answering()).as(s.name() + " answering after down").isFalse();
            assertThat(s.pid()).as(s.name() + " pid after down").isNull();
        });
        for (long pid : pids.values()) {
            assertThat(ProcessHandle.of(pid).filter(LocalServices::running)).as("pid " + pid + " running").isEmpty();
        }
        for (int port : List.of(REDIS_PORT, CH_HTTP_PORT, CH_TCP_PORT, MONGO_PORT)) {
            assertThat(ListeningSockets.free(port)).as("port " + port + " free").isTrue();
        }
        assertThat(DATA_DIR.resolve("redis/redis.pid")).doesNotExist();
        assertThat(DATA_DIR.resolve("mongo/mongo.pid")).doesNotExist();

        services.up();
        Map<String, Long> restarted = pids(services.status());
        assertThat(restarted.values()).doesNotContainNull().doesNotContainAnyElementsOf(pids.values());
        assertThat(redisGet("it:key")).isEqualTo("survives");
        assertThat(clickhouse("SELECT sum(x) FROM it_restart").trim()).isEqualTo("42");
        try (MongoClient client = MongoClients.create(MONGO_URI)) {
            Document doc = profiles(client).find(new Document("_id", "user-1")).first();
            assertThat(doc).isNotNull();
            assertThat(doc.getInteger("score")).isEqualTo(7);
        }

        services.down();
        assertThat(services.status()).noneMatch(ServiceStatus::answering);
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void refusesToStartOnANonLoopbackAddress() {
        ServiceAddresses remote = new ServiceAddresses(URI.create("redis://198.51.100.1:26379"),
                URI.create(CH_URL), CH_TCP_PORT, MONGO_URI);
        assertThatThrownBy(() -> new LocalServices(remote, DATA_DIR, out).up())
                .isInstanceOf(ServiceException.class)
                .hasMessageContaining("redis")
                .hasMessageContaining("198.51.100.1:26379")
                .hasMessageContaining("loopback");
        assertThat(ListeningSockets.free(CH_HTTP_PORT)).as("nothing started after the refusal").isTrue();
    }

    private static Map<String, Long> pids(List<ServiceStatus> statuses) {
        return statuses.stream().collect(Collectors.toMap(ServiceStatus::name, ServiceStatus::pid));
    }

    private static MongoCollection<Document> profiles(MongoClient client) {
        return client.getDatabase("featurepipe_it").getCollection("profiles");
    }

    private static void redisSet(String key, String value) {
        RedisClient client = RedisClient.create(REDIS_URL);
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            assertThat(c.sync().set(key, value)).isEqualTo("OK");
        } finally {
            client.shutdown();
        }
    }

    private static String redisGet(String key) {
        RedisClient client = RedisClient.create(REDIS_URL);
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            return c.sync().get(key);
        } finally {
            client.shutdown();
        }
    }

    private static String clickhouse(String sql) throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(CH_URL + "/?query=" + URLEncoder.encode(sql, StandardCharsets.UTF_8)))
                        .POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(sql + " -> " + r.body()).isEqualTo(200);
        return r.body();
    }

    private static boolean connects(InetSocketAddress address) {
        try (Socket s = new Socket()) {
            s.connect(address, 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
