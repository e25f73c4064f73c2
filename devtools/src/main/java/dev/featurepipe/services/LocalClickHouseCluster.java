package dev.featurepipe.services;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The local ClickHouse as one server or as a cluster of {@code shards} servers on one host, one replica per shard.
 * Shard k (1 to N) listens on the HTTP port of FP_CLICKHOUSE_URL plus k - 1 and on FP_CLICKHOUSE_TCP_PORT plus
 * k - 1, keeps its data in {@code <data dir>/clickhouse-shard-k/}, and has the cluster {@code name} in its
 * {@code remote_servers}, naming every shard by its TCP port: what FP_CLICKHOUSE_CLUSTER names. One shard is the
 * plain local server of {@code ./fp services up}, in {@code <data dir>/clickhouse/}.
 *
 * @param shards how many servers (1: the single one)
 * @param name   the cluster's name in their remote_servers
 */
public record LocalClickHouseCluster(int shards, String name) {
    public static final String DEFAULT_NAME = "featurepipe";
    public static final int MAX_SHARDS = 16;
    public static final LocalClickHouseCluster SINGLE = new LocalClickHouseCluster(1, DEFAULT_NAME);
    private static final String SHARD_DIR = "clickhouse-shard-";

    public LocalClickHouseCluster {
        if (shards < 1 || shards > MAX_SHARDS) {
            throw new IllegalArgumentException("a local ClickHouse cluster has 1 to " + MAX_SHARDS + " shards, not " + shards);
        }
        if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            throw new IllegalArgumentException("a cluster's name is letters, digits and _ only, not '" + name + "'");
        }
    }

    /**
     * The cluster whose servers {@code ./fp services up} started in {@code dataDir} (a shard's pid file left there),
     * so that {@code down} and {@code status} find them without being told; the single server when there are none.
     */
    public static LocalClickHouseCluster startedIn(Path dataDir, String name) {
        int shards = 0;
        while (shards < MAX_SHARDS && Files.exists(shardDir(dataDir, shards + 1).resolve("clickhouse.pid"))) {
            shards++;
        }
        return shards < 2 ? SINGLE : new LocalClickHouseCluster(shards, name);
    }

    /** The servers, each with its own name, ports and directory. */
    List<LocalServer> servers(URI url, int tcpPort, Path dataDir) {
        if (shards == 1) {
            return List.of(new ClickHouseLocal(url, tcpPort, dataDir.resolve("clickhouse")));
        }
        String host = url.getHost();
        StringBuilder config = new StringBuilder("<remote_servers><" + name + ">");
        for (int k = 0; k < shards; k++) {
            config.append("<shard><replica><host>").append(host).append("</host><port>").append(tcpPort + k)
                    .append("</port></replica></shard>");
        }
        config.append("</").append(name).append("></remote_servers>");
        List<LocalServer> servers = new ArrayList<>();
        for (int k = 1; k <= shards; k++) {
            URI node = URI.create(url.getScheme() + "://" + host + ":" + (url.getPort() + k - 1));
            servers.add(new ClickHouseLocal("clickhouse-" + k, node, tcpPort + k - 1, shardDir(dataDir, k), config.toString()));
        }
        return servers;
    }

    /** The settings that point the pipeline at this cluster, one {@code FP_...=...} line each. */
    public List<String> settings(URI url, int tcpPort) {
        return List.of("FP_CLICKHOUSE_URL=" + url, "FP_CLICKHOUSE_TCP_PORT=" + tcpPort,
                "FP_CLICKHOUSE_CLUSTER=" + (shards == 1 ? "" : name));
    }

    private static Path shardDir(Path dataDir, int k) {
        return dataDir.resolve(SHARD_DIR + k);
    }
}
