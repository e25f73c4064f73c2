package dev.featurepipe.it;

import dev.featurepipe.config.Config;
import dev.featurepipe.config.Setting;
import dev.featurepipe.services.LocalClickHouseCluster;
import dev.featurepipe.services.LocalServices;
import dev.featurepipe.services.ServiceAddresses;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A local ClickHouse cluster for the integration tests, started once per test run through the same {@link
 * LocalServices} as {@code ./fp services up --clickhouse-shards N [--clickhouse-replicas R]}, and stopped at the end.
 * Use it after {@link TestServices}, whose Redis and MongoDB-protocol server it then finds answering and leaves alone.
 *
 * @param httpPort the first server's HTTP port; server i listens on it plus i (see {@link LocalClickHouseCluster})
 * @param tcpPort  the first server's TCP port
 */
public record TestClickHouseCluster(LocalClickHouseCluster cluster, int httpPort, int tcpPort, String dir) {
    /** Two shards of one replica. */
    static final TestClickHouseCluster SHARDED = new TestClickHouseCluster(
            new LocalClickHouseCluster(2, 1, LocalClickHouseCluster.DEFAULT_NAME), 18200 + TestServices.OFFSET,
            19200 + TestServices.OFFSET, "target/it-clickhouse-cluster");
    /** Two shards of two replicas, with a ZooKeeper (FP_CLICKHOUSE_REPLICATED). */
    static final TestClickHouseCluster REPLICATED = new TestClickHouseCluster(
            new LocalClickHouseCluster(2, 2, LocalClickHouseCluster.DEFAULT_NAME), 18210 + TestServices.OFFSET,
            19210 + TestServices.OFFSET, "target/it-clickhouse-replicated");

    /** Starts {@link #SHARDED} for a test class. */
    public static final class Sharded implements BeforeAllCallback {
        @Override
        public void beforeAll(ExtensionContext context) {
            SHARDED.start(context);
        }
    }

    /** Starts {@link #REPLICATED} for a test method (its five servers only when a test needs them). */
    public static final class Replicated implements BeforeEachCallback {
        @Override
        public void beforeEach(ExtensionContext context) {
            REPLICATED.start(context);
        }
    }

    private void start(ExtensionContext context) {
        context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL).computeIfAbsent(this, k -> new Running(local()),
                Running.class);
    }

    /** The HTTP interface of each server, shard by shard, replica by replica: FP_CLICKHOUSE_URL is the first. */
    List<URI> nodes() {
        return IntStream.range(0, cluster.shards() * cluster.replicas())
                .mapToObj(i -> URI.create("http://127.0.0.1:" + (httpPort + i))).toList();
    }

    /** {@link TestServices#config} pointed at the cluster, with the settings {@code ./fp services up} prints for it. */
    Config config(String registry, Map<Setting<?>, String> more) {
        Map<Setting<?>, String> flags = new HashMap<>();
        for (String line : cluster.settings(nodes().get(0), tcpPort)) {
            String name = line.substring(0, line.indexOf('='));
            Config.ALL.stream().filter(s -> s.env().equals(name)).forEach(s -> flags.put(s, line.substring(name.length() + 1)));
        }
        flags.putAll(more);
        return TestServices.config(registry, flags);
    }

    private LocalServices local() {
        return new LocalServices(new ServiceAddresses(TestServices.REDIS, nodes().get(0), tcpPort, TestServices.MONGO),
                Config.LOCAL_REDIS_FSYNC.defaultValue(), null, cluster, Path.of(dir).toAbsolutePath(), new PrintStream(System.out, true));
    }

    /** The cluster's servers while the test run lasts; closed by JUnit after the last test. */
    private static final class Running implements AutoCloseable {
        private final LocalServices services;
        private final List<String> started;

        Running(LocalServices services) {
            this.services = services;
            this.started = services.up();
        }

        @Override
        public void close() {
            services.down(started);
        }
    }
}
