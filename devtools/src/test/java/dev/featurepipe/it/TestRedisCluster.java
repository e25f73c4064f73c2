package dev.featurepipe.it;

import dev.featurepipe.config.Config;
import dev.featurepipe.core.Durations;
import dev.featurepipe.services.LocalServices;
import dev.featurepipe.services.RedisClusterSpec;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real Redis Cluster for integration tests, started through the same {@link LocalServices} as
 * {@code ./fp services up --redis-cluster}, once per test run for each shape and port offset, and stopped at the
 * end of the run:
 *
 * <pre>
 * &#64;RegisterExtension
 * static final TestRedisCluster CLUSTER = new TestRedisCluster(3, 1, 0);
 * ... CLUSTER.url() // redis-cluster://127.0.0.1:21000,127.0.0.1:21001,127.0.0.1:21002 at fp.it.portOffset 0
 * </pre>
 */
public final class TestRedisCluster implements BeforeAllCallback {
    /**
     * First port of the test run's clusters, {@link TestServices#OFFSET} above 21000; their cluster bus ports are
     * 10000 above theirs. Tests that start clusters of their own take ports from 40 above it.
     */
    public static final int BASE_PORT = 21_000 + TestServices.OFFSET;
    private static final Path DIR = Path.of("target/it-redis-cluster").toAbsolutePath();

    private final RedisClusterSpec spec;
    private Running running;

    /**
     * @param portOffset added to {@link #BASE_PORT}; from 0 to 39, and two clusters of a run need offsets at least
     *                   their node count apart
     */
    public TestRedisCluster(int masters, int replicas, int portOffset) {
        if (portOffset < 0 || portOffset + masters * (1 + replicas) > 40) {
            throw new IllegalArgumentException("test clusters take ports 0 to 39 above BASE_PORT; offset " + portOffset
                    + " with " + masters * (1 + replicas) + " nodes does not fit");
        }
        this.spec = new RedisClusterSpec(masters, replicas, BASE_PORT + portOffset,
                Durations.parse(Config.LOCAL_REDIS_CLUSTER_NODE_TIMEOUT.defaultValue()));
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        running = context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL)
                .computeIfAbsent(spec, k -> new Running(spec), Running.class);
    }

    /** The cluster's {@code FP_REDIS_URL}: {@code redis-cluster://} with its masters as seeds. */
    public String url() {
        return running().url;
    }

    /**
     * The cluster's nodes as {@code ./fp services} manages them, for tests that kill one ({@code kill}) and start it
     * again ({@code up}); only on a shape and port offset no other test class uses.
     */
    public LocalServices services() {
        return running().services;
    }

    private Running running() {
        if (running == null) {
            throw new IllegalStateException("the cluster is started before the test class's first test; register"
                    + " TestRedisCluster with @RegisterExtension on a static field");
        }
        return running;
    }

    /** The cluster while the test run lasts; closed by JUnit after the last test. */
    private static final class Running implements AutoCloseable {
        private final RedisClusterSpec spec;
        private final LocalServices services;
        private final List<String> started;
        private final String url;

        Running(RedisClusterSpec spec) {
            this.spec = spec;
            services = LocalServices.redisCluster(spec, Config.LOCAL_REDIS_FSYNC.defaultValue(), DIR,
                    new PrintStream(System.out, true));
            started = services.up();
            url = services.redisClusterUrl().orElseThrow();
        }

        /** Stops the nodes this run started; when it started them all, their data goes too, so the next run starts afresh. */
        @Override
        public void close() throws IOException {
            services.down(started);
            if (started.size() == spec.nodes()) {
                for (int port = spec.basePort(); port < spec.basePort() + spec.nodes(); port++) {
                    TestFiles.deleteRecursively(DIR.resolve("redis-cluster/" + port));
                }
            }
        }
    }
}
