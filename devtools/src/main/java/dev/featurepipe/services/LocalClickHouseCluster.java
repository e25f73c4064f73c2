package dev.featurepipe.services;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The local ClickHouse as one server or as a cluster on one host: {@code shards} shards of {@code replicas}
 * replicas each. Server i (0 to shards × replicas - 1; shard k's replica r is i = (k - 1) × replicas + r - 1)
 * listens on the HTTP port of FP_CLICKHOUSE_URL plus i and on FP_CLICKHOUSE_TCP_PORT plus i, keeps its data in
 * {@code <data dir>/clickhouse-shard-k/} ({@code clickhouse-shard-k-replica-r/} with replicas), and has the cluster
 * {@code name} in its {@code remote_servers}, naming every server by its TCP port: what FP_CLICKHOUSE_CLUSTER names.
 * With replicas, a ZooKeeper listens on the TCP port after the servers' last one, and server i also on the HTTP
 * port plus shards × replicas plus i for its replicas (interserver_http_port), with the macros {@code shard} and
 * {@code replica} that FP_CLICKHOUSE_REPLICATED's tables use. One shard of one replica is the plain local server
 * of {@code ./fp services up}, in {@code <data dir>/clickhouse/}.
 */
public record LocalClickHouseCluster(int shards, int replicas, String name) {
    public static final String DEFAULT_NAME = "featurepipe";
    public static final int MAX_SERVERS = 16;
    public static final LocalClickHouseCluster SINGLE = new LocalClickHouseCluster(1, 1, DEFAULT_NAME);
    private static final String SHARD_DIR = "clickhouse-shard-";

    public LocalClickHouseCluster {
        if (shards < 1 || replicas < 1 || shards * replicas > MAX_SERVERS) {
            throw new IllegalArgumentException("a local ClickHouse cluster has 1 to " + MAX_SERVERS + " servers (shards ×"
                    + " replicas), not " + shards + " × " + replicas);
        }
        if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            throw new IllegalArgumentException("a cluster's name is letters, digits and _ only, not '" + name + "'");
        }
    }

    /**
     * The cluster whose servers {@code ./fp services up} started in {@code dataDir} (pid files left there), so that
     * {@code down} and {@code status} find them without being told; the single server when there are none.
     */
    public static LocalClickHouseCluster startedIn(Path dataDir, String name) {
        int replicas = started(r -> dataDir.resolve(SHARD_DIR + 1 + "-replica-" + r));
        if (replicas == 0) {
            int shards = started(k -> dataDir.resolve(SHARD_DIR + k));
            return shards < 2 ? SINGLE : new LocalClickHouseCluster(shards, 1, name);
        }
        return new LocalClickHouseCluster(started(k -> dataDir.resolve(SHARD_DIR + k + "-replica-1")), replicas, name);
    }

    /** How many of the directories 1, 2, ... hold a server's pid file, counting up to the first that does not. */
    private static int started(IntFunction<Path> dir) {
        int n = 0;
        while (n < MAX_SERVERS && Files.exists(dir.apply(n + 1).resolve("clickhouse.pid"))) {
            n++;
        }
        return n;
    }

    /** The servers, ZooKeeper first when there are replicas, each with its own name, ports and directory. */
    List<LocalServer> servers(URI url, int tcpPort, Path dataDir) {
        if (shards * replicas == 1) {
            return List.of(new ClickHouseLocal(url, tcpPort, dataDir.resolve("clickhouse")));
        }
        String host = url.getHost();
        int servers = shards * replicas;
        StringBuilder shared = new StringBuilder("<remote_servers><" + name + ">");
        for (int k = 0; k < shards; k++) {
            shared.append("<shard><internal_replication>").append(replicas > 1).append("</internal_replication>");
            for (int r = 0; r < replicas; r++) {
                shared.append("<replica><host>").append(host).append("</host><port>").append(tcpPort + k * replicas + r)
                        .append("</port></replica>");
            }
            shared.append("</shard>");
        }
        shared.append("</").append(name).append("></remote_servers>");
        List<LocalServer> all = new ArrayList<>();
        if (replicas > 1) {
            all.add(new ZooKeeperLocal(host, tcpPort + servers, dataDir.resolve("zookeeper")));
            shared.append("<zookeeper><node><host>").append(host).append("</host><port>").append(tcpPort + servers)
                    .append("</port></node></zookeeper><interserver_http_host>").append(host).append("</interserver_http_host>");
        }
        for (int k = 1; k <= shards; k++) {
            for (int r = 1; r <= replicas; r++) {
                int i = (k - 1) * replicas + r - 1;
                String config = shared + (replicas == 1 ? "" : "<interserver_http_port>" + (url.getPort() + servers + i)
                        + "</interserver_http_port><macros><shard>" + k + "</shard><replica>" + r + "</replica></macros>");
                URI node = URI.create(url.getScheme() + "://" + host + ":" + (url.getPort() + i));
                all.add(new ClickHouseLocal("clickhouse-" + k + (replicas == 1 ? "" : "." + r), node, tcpPort + i,
                        dir(dataDir, k, r), config));
            }
        }
        return all;
    }

    /** The settings that point the pipeline at this cluster, one {@code FP_...=...} line each. */
    public List<String> settings(URI url, int tcpPort) {
        return List.of("FP_CLICKHOUSE_URL=" + url, "FP_CLICKHOUSE_TCP_PORT=" + tcpPort,
                "FP_CLICKHOUSE_CLUSTER=" + (shards * replicas == 1 ? "" : name), "FP_CLICKHOUSE_REPLICATED=" + (replicas > 1));
    }

    private Path dir(Path dataDir, int shard, int replica) {
        return dataDir.resolve(SHARD_DIR + shard + (replicas == 1 ? "" : "-replica-" + replica));
    }
}
