package dev.featurepipe.it;

import static org.awaitility.Awaitility.await;

import dev.featurepipe.app.Pipeline;
import dev.featurepipe.config.Config;
import dev.featurepipe.config.Setting;
import dev.featurepipe.redis.Shards;
import dev.featurepipe.redis.StreamGroups;
import dev.featurepipe.redis.StreamKeys;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import dev.featurepipe.services.LocalServices;
import dev.featurepipe.services.ServiceAddresses;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Starts the real Redis, ClickHouse and MongoDB-protocol server of the integration tests once per test run, on
 * ports of their own, through the same {@link LocalServices} as {@code ./fp services up}, and stops them at the end.
 */
public final class TestServices implements BeforeAllCallback {
    /** Added to every test port (system property {@code fp.it.portOffset}), so two test runs can share a machine. */
    static final int OFFSET = Integer.getInteger("fp.it.portOffset", 0);
    static final URI REDIS = URI.create("redis://127.0.0.1:" + (16379 + OFFSET));
    static final URI CLICKHOUSE = URI.create("http://127.0.0.1:" + (18123 + OFFSET));
    static final int CLICKHOUSE_TCP = 19000 + OFFSET;
    static final int MONGO_PORT = 17017 + OFFSET;
    static final String MONGO = "mongodb://127.0.0.1:" + MONGO_PORT;
    /** Shards of each test's stream (system property {@code fp.it.shards}), so the whole suite can run sharded. */
    static final int SHARDS = Integer.getInteger("fp.it.shards", 1);
    /**
     * Whether the tests' Redis is a 3-master Redis Cluster (system property {@code fp.it.redisCluster}, replicas per
     * master {@code fp.it.redisReplicas}), which the single Redis's own tests (kills, proxies) do not use.
     */
    static final boolean ON_CLUSTER = Boolean.getBoolean("fp.it.redisCluster");
    /** Made on first use: its class reads {@link #OFFSET}. */
    private static TestRedisCluster cluster;
    private static final Path DIR = Path.of("target/it-services").toAbsolutePath();

    @Override
    public void beforeAll(ExtensionContext context) {
        context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL)
                .computeIfAbsent(TestServices.class, k -> new Running(), Running.class);
        if (ON_CLUSTER) {
            cluster().beforeAll(context);
        }
    }

    private static synchronized TestRedisCluster cluster() {
        if (cluster == null) {
            cluster = new TestRedisCluster(3, Integer.getInteger("fp.it.redisReplicas", 0), 0);
        }
        return cluster;
    }

    /** The tests' Redis: the single one, or the cluster's seeds. */
    public static URI redisUrl() {
        return ON_CLUSTER ? URI.create(cluster().url()) : REDIS;
    }

    /** The test servers, as {@code ./fp services} manages them (a test may stop and start one). */
    public static LocalServices local() {
        return new LocalServices(new ServiceAddresses(REDIS, CLICKHOUSE, CLICKHOUSE_TCP, MONGO),
                DIR, new PrintStream(System.out, true));
    }

    /** Where a test adds ClickHouse users (an XML file each; the test server reloads them within seconds). */
    public static Path clickhouseUsersDir() {
        return local().clickhouseUsersDir();
    }

    /** The servers while the test run lasts; closed by JUnit after the last test. */
    private static final class Running implements AutoCloseable {
        private final LocalServices services = local();

        private final List<String> started = services.up();

        /** Stops the servers this run started; the test Redis's data goes with it, so the next run starts it quickly. */
        @Override
        public void close() throws IOException {
            services.down(started);
            if (started.contains("redis")) {
                TestFiles.deleteRecursively(DIR.resolve("redis/appendonlydir"));
            }
        }
    }

    /** Waits until both consumer groups of the pipeline's stream have read and acknowledged every entry. */
    public static void awaitConsumers(Pipeline pipeline, Config config, Duration atMost) {
        Shards shards = pipeline.stores().shards();
        await().atMost(atMost).pollInterval(Duration.ofMillis(100)).until(() ->
                StreamGroups.status(pipeline.redis().shared().sync(), shards).stream()
                        .filter(StreamGroups.GroupStatus::caughtUp).count() == 2L * shards.count());
    }

    /** The entries of every shard's stream of the pipeline, shard by shard (each names its stream). */
    public static List<StreamMessage<String, String>> entries(Pipeline pipeline) {
        return pipeline.stores().shards().streams().stream()
                .flatMap(s -> pipeline.redis().shared().sync().xrange(s, Range.create("-", "+")).stream()).toList();
    }

    /** The entries of the pipeline's stream, over all shards. */
    public static long streamLength(Pipeline pipeline) {
        return pipeline.stores().shards().streams().stream().mapToLong(s -> pipeline.redis().shared().sync().xlen(s)).sum();
    }

    /** The dead letters of the pipeline's stream, shard by shard. */
    public static List<StreamMessage<String, String>> deadLetters(Pipeline pipeline) {
        return pipeline.stores().shards().streams().stream().flatMap(s -> pipeline.redis().shared().sync()
                .xrange(StreamKeys.deadLetters(s), Range.create("-", "+")).stream()).toList();
    }

    /** The shards of a stream as the tests' settings make them ({@code fp.it.shards}). */
    public static Shards shards(String stream) {
        return new Shards(stream, SHARDS, ON_CLUSTER);
    }

    /**
     * A configuration pointing at the test servers, with a stream, ClickHouse database and MongoDB database of
     * its own so that test classes do not see each other's data.
     */
    public static Config config(String registry, Map<Setting<?>, String> more) {
        String unique = "it_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        Map<Setting<?>, String> flags = new HashMap<>(Map.of(
                Config.REDIS_URL, redisUrl().toString(),
                Config.CLICKHOUSE_URL, CLICKHOUSE.toString(),
                Config.MONGO_URI, MONGO,
                Config.HTTP_PORT, "0",
                Config.REGISTRY, registry,
                Config.STREAM, unique + ":events",
                Config.CLICKHOUSE_DATABASE, unique,
                Config.MONGO_DATABASE, unique,
                Config.OFFLINE_BATCH_INTERVAL, "200ms",
                Config.AUTH, "off")); // AccessControlIT sets keys
        flags.put(Config.STREAM_SHARDS, Integer.toString(SHARDS));
        // tests that check served values must not see a timeout on a busy machine; ServeDeadlineIT sets its own
        flags.putAll(Map.of(Config.SERVE_DEADLINE, "10s", Config.SERVE_ONLINE_BUDGET, "10s", Config.SERVE_PROFILE_BUDGET, "10s"));
        flags.putAll(more);
        return new Config(Map.of(), flags, Path.of("").toAbsolutePath());
    }
}
