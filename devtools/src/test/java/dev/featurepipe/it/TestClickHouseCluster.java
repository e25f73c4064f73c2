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
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A ClickHouse cluster of {@value #SHARDS} shards for the integration tests, started once per test run through the
 * same {@link LocalServices} as {@code ./fp services up --clickhouse-shards 2}, and stopped at the end. Use it after
 * {@link TestServices}, whose Redis and MongoDB-protocol server it then finds answering and leaves alone.
 */
public final class TestClickHouseCluster implements BeforeAllCallback {
    static final int SHARDS = 2;
    static final LocalClickHouseCluster CLUSTER = new LocalClickHouseCluster(SHARDS, LocalClickHouseCluster.DEFAULT_NAME);
    /** The first shard's ports; shard k listens on these plus k - 1. */
    static final int HTTP_PORT = 18200 + TestServices.OFFSET;
    static final int TCP_PORT = 19200 + TestServices.OFFSET;
    private static final Path DIR = Path.of("target/it-clickhouse-cluster").toAbsolutePath();

    @Override
    public void beforeAll(ExtensionContext context) {
        context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL)
                .computeIfAbsent(TestClickHouseCluster.class, k -> new Running(), Running.class);
    }

    /** The HTTP interface of each shard, the first one's first: FP_CLICKHOUSE_URL points there. */
    static List<URI> nodes() {
        return IntStream.range(0, SHARDS).mapToObj(k -> URI.create("http://127.0.0.1:" + (HTTP_PORT + k))).toList();
    }

    /** {@link TestServices#config} pointed at the cluster, with the settings {@code ./fp services up} prints for it. */
    static Config config(String registry, Map<Setting<?>, String> more) {
        Map<Setting<?>, String> flags = new HashMap<>();
        for (String line : CLUSTER.settings(nodes().get(0), TCP_PORT)) {
            String name = line.substring(0, line.indexOf('='));
            Config.ALL.stream().filter(s -> s.env().equals(name)).forEach(s -> flags.put(s, line.substring(name.length() + 1)));
        }
        flags.putAll(more);
        return TestServices.config(registry, flags);
    }

    private static LocalServices local() {
        return new LocalServices(new ServiceAddresses(TestServices.REDIS, nodes().get(0), TCP_PORT, TestServices.MONGO),
                Config.LOCAL_REDIS_FSYNC.defaultValue(), CLUSTER, DIR, new PrintStream(System.out, true));
    }

    /** The cluster's servers while the test run lasts; closed by JUnit after the last test. */
    private static final class Running implements AutoCloseable {
        private final LocalServices services = local();
        private final List<String> started = services.up();

        @Override
        public void close() {
            services.down(started);
        }
    }
}
