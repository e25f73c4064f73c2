package dev.featurepipe.services;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.featurepipe.cli.Main;
import dev.featurepipe.config.Config;
import dev.featurepipe.it.TestFiles;
import dev.featurepipe.it.TestRedisCluster;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode.NodeFlag;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * A real Redis Cluster started as {@code ./fp services up --redis-cluster} starts it: served slots, replicas,
 * loopback only, reuse, a master killed with SIGKILL and its replica promoted, and nothing left after down.
 */
class RedisClusterLocalIT {
    private static final int BASE = TestRedisCluster.BASE_PORT + 40;
    private static final int CLI_BASE = TestRedisCluster.BASE_PORT + 50;
    private static final Duration NODE_TIMEOUT = Duration.ofSeconds(2);
    private static final Duration FAILOVER_BOUND = Duration.ofSeconds(15);
    private static final Path DIR = Path.of("target/it-redis-cluster-local").toAbsolutePath();

    private final ByteArrayOutputStream output = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(output, true, StandardCharsets.UTF_8);

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void threeMastersWithAReplicaEachServeEverySlotAndSurviveAMasterKill() throws Exception {
        RedisClusterSpec spec = new RedisClusterSpec(3, 1, BASE, NODE_TIMEOUT);
        LocalServices services = fresh(spec);
        Map<String, Long> pids = Map.of();
        RedisClusterClient client = null;
        try {
            List<String> started = services.up();
            assertThat(started).containsExactlyElementsOf(IntStream.range(BASE, BASE + 6).mapToObj(p -> "redis-" + p).toList());
            String url = services.redisClusterUrl().orElseThrow();
            assertThat(url).isEqualTo("redis-cluster://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", BASE, BASE + 1, BASE + 2);
            assertThat(output.toString(StandardCharsets.UTF_8)).contains("created, 3 masters with 1 replica each, healthy");
            pids = pids(services.status());
            assertThat(pids).hasSize(6).doesNotContainValue(null);
            for (int port = BASE; port < BASE + 6; port++) {
                for (int listening : List.of(port, port + RedisLocal.CLUSTER_BUS_OFFSET)) {
                    assertThat(ListeningSockets.addresses(listening)).as("listening on port " + listening).isNotEmpty()
                            .allSatisfy(a -> assertThat(a.isLoopbackAddress()).as(a + ":" + listening).isTrue());
                }
            }

            client = RedisClusterClient.create(seeds(url));
            StatefulRedisClusterConnection<String, String> connection = client.connect();
            List<RedisClusterNode> masters = client.getPartitions().stream().filter(n -> n.is(NodeFlag.UPSTREAM)).toList();
            assertThat(masters).hasSize(3);
            assertThat(masters.stream().mapToInt(n -> n.getSlots().size()).sum()).isEqualTo(SlotHash.SLOT_COUNT);
            assertThat(masters.stream().flatMap(n -> n.getSlots().stream()).distinct().count()).isEqualTo(SlotHash.SLOT_COUNT);
            for (RedisClusterNode master : masters) {
                assertThat(client.getPartitions().stream().filter(n -> n.is(NodeFlag.REPLICA))
                        .filter(n -> master.getNodeId().equals(n.getSlaveOf())).count())
                        .as("replicas of " + master.getUri()).isEqualTo(1);
            }
            String key = "it:cluster:key";
            assertThat(connection.sync().set(key, "written")).isEqualTo("OK");
            assertThat(connection.sync().get(key)).isEqualTo("written");

            output.reset();
            assertThat(services.up()).as("a second up starts nothing").isEmpty();
            assertThat(output.toString(StandardCharsets.UTF_8)).contains("already healthy, 3 masters with 1 replica each,"
                    + " used as is").doesNotContain("started (pid");
            assertThat(pids(services.status())).isEqualTo(pids);

            RedisClusterNode master = client.getPartitions().getPartitionBySlot(SlotHash.getSlot(key));
            RedisClusterNode replica = client.getPartitions().stream()
                    .filter(n -> master.getNodeId().equals(n.getSlaveOf())).findFirst().orElseThrow();
            awaitReplicated(replica.getUri().getPort(), key, "written");
            String masterName = "redis-" + master.getUri().getPort();
            long t0 = System.nanoTime();
            assertThat(services.kill(masterName)).as("SIGKILL of " + masterName).isTrue();
            awaitPromoted(replica.getUri().getPort(), t0);

            client.refreshPartitions();
            assertThat(client.getPartitions().getPartitionBySlot(SlotHash.getSlot(key)).getUri().getPort())
                    .isEqualTo(replica.getUri().getPort());
            assertThat(connection.sync().get(key)).as("read after the failover").isEqualTo("written");

            output.reset();
            assertThat(services.up()).as("up restarts the killed master alone").containsExactly(masterName);
            assertThat(output.toString(StandardCharsets.UTF_8)).contains("formed again, 3 masters with 1 replica each");
            client.refreshPartitions();
            RedisClusterNode rejoined = client.getPartitions().stream()
                    .filter(n -> n.getUri().getPort() == master.getUri().getPort()).findFirst().orElseThrow();
            assertThat(rejoined.is(NodeFlag.REPLICA)).as("the old master rejoined as a replica").isTrue();
            assertThat(rejoined.getSlaveOf()).isEqualTo(replica.getNodeId());
            pids = pids(services.status());
            connection.close();
        } finally {
            if (client != null) {
                client.shutdown();
            }
            services.down();
            System.out.print(output.toString(StandardCharsets.UTF_8));
        }
        assertThat(services.status()).hasSize(6).allSatisfy(s -> {
            assertThat(s.answering()).as(s.name() + " answering after down").isFalse();
            assertThat(s.pid()).as(s.name() + " pid after down").isNull();
        });
        for (long pid : pids.values()) {
            assertThat(ProcessHandle.of(pid).filter(LocalServices::running)).as("pid " + pid + " running").isEmpty();
        }
        for (int port = BASE; port < BASE + 6; port++) {
            assertThat(ListeningSockets.free(port)).as("port " + port + " free").isTrue();
            assertThat(ListeningSockets.free(port + RedisLocal.CLUSTER_BUS_OFFSET)).as("bus port of " + port + " free").isTrue();
        }
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void servicesUpWithRedisClusterPrintsTheRedisUrlThatPointsAtIt() throws Exception {
        TestFiles.deleteRecursively(DIR.resolve("cli"));
        List<String> settings = List.of("--data-dir=" + DIR.resolve("cli"),
                "--local-redis-cluster-port=" + CLI_BASE,
                "--clickhouse-url=http://127.0.0.1:" + (CLI_BASE + 10),
                "--clickhouse-tcp-port=" + (CLI_BASE + 11),
                "--mongo-uri=mongodb://127.0.0.1:" + (CLI_BASE + 12));
        try {
            List<String> up = fp(settings, "services", "up", "--redis-cluster", "3");
            String expected = "FP_REDIS_URL=redis-cluster://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d"
                    .formatted(CLI_BASE, CLI_BASE + 1, CLI_BASE + 2);
            assertThat(up).filteredOn(l -> l.startsWith("FP_")).containsExactly(expected);
            assertThat(String.join("\n", up)).doesNotContain(":6379"); // no single Redis beside the cluster

            RedisClusterClient client = RedisClusterClient.create(seeds(expected.substring("FP_REDIS_URL=".length())));
            try (StatefulRedisClusterConnection<String, String> c = client.connect()) {
                assertThat(c.sync().clusterInfo()).contains("cluster_state:ok", "cluster_size:3");
                assertThat(c.sync().set("it:cli", "x")).isEqualTo("OK");
            } finally {
                client.shutdown();
            }
            List<String> status = fp(settings, "services", "status", "--redis-cluster", "3");
            assertThat(status).filteredOn(l -> l.startsWith("redis-" + CLI_BASE + " ")).singleElement()
                    .satisfies(l -> assertThat(l).contains(" yes ", "pid "));
            assertThat(status).anySatisfy(l -> assertThat(l).startsWith("redis-cluster").contains("healthy, 3 masters"));

            fp(settings, "services", "down");
            List<String> again = fp(settings, "services", "up", "--redis-cluster");
            // the nodes read back who they are from nodes.conf: the cluster they form needs no create
            assertThat(again).anySatisfy(l -> assertThat(l).matches("redis-cluster .*(already healthy|formed again), 3 masters, no replicas.*"));
            assertThat(again).filteredOn(l -> l.startsWith("FP_")).containsExactly(expected);
            client = RedisClusterClient.create(seeds(expected.substring("FP_REDIS_URL=".length())));
            try (StatefulRedisClusterConnection<String, String> c = client.connect()) {
                assertThat(c.sync().get("it:cli")).as("kept across down and up").isEqualTo("x");
            } finally {
                client.shutdown();
            }
        } finally {
            List<String> down = fp(settings, "services", "down");
            assertThat(down).anySatisfy(l -> assertThat(l).startsWith("redis-" + CLI_BASE + " ").contains("stopped (pid"));
        }
        for (int port = CLI_BASE; port < CLI_BASE + 3; port++) {
            assertThat(ListeningSockets.free(port)).as("port " + port + " free after down").isTrue();
        }
    }

    @Test
    @Timeout(value = 1, unit = TimeUnit.MINUTES)
    void badClusterFlagsAreRefusedBeforeAnythingStarts() {
        assertThat(fpFails("services", "up", "--redis-cluster", "2")).contains("at least 3 masters");
        assertThat(fpFails("services", "up", "--replicas", "1")).contains("give --redis-cluster N too");
        assertThat(fpFails("services", "up", "--redis-cluster", "3", "--replicas", "-1")).contains("0 or more");
        assertThat(fpFails("services", "up", "--redis-cluster", "3", "--local-redis-cluster-port=55534"))
                .contains("cluster bus ports 65534-65536");
        assertThat(ListeningSockets.free(CLI_BASE)).isTrue();
    }

    /** Runs {@code ./fp <args>} in this JVM, checks that it exits 2 and returns what it printed to stderr. */
    private static String fpFails(String... args) {
        StringWriter err = new StringWriter();
        CommandLine cli = Main.commandLine();
        cli.setErr(new PrintWriter(err, true));
        assertThat(cli.execute(args)).as("exit code of fp " + String.join(" ", args) + ": " + err).isEqualTo(2);
        return err.toString();
    }

    /** Runs {@code ./fp <args> <settings>} in this JVM, checks that it exits 0 and returns what it printed. */
    private static List<String> fp(List<String> settings, String... args) {
        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        int exit;
        try {
            List<String> all = new ArrayList<>(Arrays.asList(args));
            all.addAll(settings);
            exit = Main.commandLine().execute(all.toArray(String[]::new));
        } finally {
            System.setOut(stdout);
        }
        String text = printed.toString(StandardCharsets.UTF_8);
        System.out.print(text);
        assertThat(exit).as("exit code of fp " + String.join(" ", args) + ", printed:\n" + text).isZero();
        return text.lines().toList();
    }

    /** The cluster's servers, with the leftovers of an aborted earlier run stopped and their data gone. */
    private LocalServices fresh(RedisClusterSpec spec) throws IOException {
        LocalServices.redisCluster(spec, Config.LOCAL_REDIS_FSYNC.defaultValue(), DIR, out).down();
        TestFiles.deleteRecursively(DIR.resolve("redis-cluster"));
        output.reset();
        return LocalServices.redisCluster(spec, Config.LOCAL_REDIS_FSYNC.defaultValue(), DIR, out);
    }

    private static Map<String, Long> pids(List<ServiceStatus> statuses) {
        Map<String, Long> pids = new HashMap<>();
        statuses.forEach(s -> pids.put(s.name(), s.pid()));
        return pids;
    }

    /** The seeds of a {@code redis-cluster://host:port,...} URL. */
    private static List<RedisURI> seeds(String url) {
        return Arrays.stream(url.substring("redis-cluster://".length()).split(","))
                .map(seed -> RedisURI.create("redis://" + seed)).toList();
    }

    /** Waits until the replica at {@code port} holds the key, so that a failover to it cannot lose it. */
    private static void awaitReplicated(int port, String key, String value) {
        RedisClient client = RedisClient.create(RedisURI.create("127.0.0.1", port));
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            c.sync().readOnly();
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                    .until(() -> value.equals(c.sync().get(key)));
        } finally {
            client.shutdown();
        }
    }

    /**
     * Waits until the replica at {@code port} is a master in a cluster that is ok again, and reports how long after
     * {@code t0} (the SIGKILL of its master) that was.
     */
    private static void awaitPromoted(int port, long t0) {
        RedisClient client = RedisClient.create(RedisURI.create("127.0.0.1", port));
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            await().atMost(FAILOVER_BOUND).pollInterval(Duration.ofMillis(50)).until(() ->
                    c.sync().info("replication").contains("role:master") && c.sync().clusterInfo().contains("cluster_state:ok"));
        } finally {
            client.shutdown();
        }
        System.out.printf(Locale.ROOT, "RedisClusterLocalIT: replica 127.0.0.1:%d promoted and cluster_state:ok %.2f s"
                + " after SIGKILL of its master (cluster-node-timeout %d ms)%n", port, (System.nanoTime() - t0) / 1e9,
                NODE_TIMEOUT.toMillis());
    }
}
