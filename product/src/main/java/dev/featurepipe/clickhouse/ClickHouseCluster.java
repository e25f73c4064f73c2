package dev.featurepipe.clickhouse;

import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.expr.SqlWriter;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;

/**
 * The nodes of a cluster named in the servers' {@code remote_servers}, as the server at FP_CLICKHOUSE_URL lists
 * them in {@code system.clusters}. DDL is sent to each node's HTTP interface rather than as {@code ON CLUSTER},
 * which needs ZooKeeper's distributed DDL queue: so a cluster without ZooKeeper gets its tables too, and each
 * statement has returned on every node when this does.
 *
 * <p>{@code system.clusters} names each node's native (TCP) port only. A node's HTTP port is taken to be as far from
 * FP_CLICKHOUSE_URL's port as its TCP port is from the TCP port of the node FP_CLICKHOUSE_URL names (the row
 * ClickHouse marks {@code is_local}): with every node on the same ports, FP_CLICKHOUSE_URL's port; on one host
 * with consecutive ports (as {@code ./fp services up --clickhouse-shards N} starts them), the consecutive ones.
 *
 * @param name    the cluster's name
 * @param shards  how many shards it has
 * @param nodes   every node (each replica of each shard), a client on its HTTP interface
 */
public record ClickHouseCluster(String name, int shards, List<Node> nodes) {
    /** A node: its shard (1 to {@code shards}, in the order of the config), its replica in it (from 1), a client on it. */
    public record Node(int shard, int replica, ClickHouseClient client) {
    }

    public ClickHouseCluster {
        nodes = List.copyOf(nodes);
    }

    /**
     * The cluster as the server of {@code entry} knows it.
     *
     * @throws FeaturepipeException when that server has no such cluster
     */
    public static ClickHouseCluster of(ClickHouseClient entry, String name) {
        ClickHouseClient system = entry.withDatabase(null); // the database may not exist yet
        List<String[]> rows = system.execute("SELECT shard_num, host_name, port, is_local, replica_num FROM system.clusters WHERE cluster = "
                + SqlWriter.quote(name) + " ORDER BY shard_num, replica_num FORMAT TabSeparated").lines()
                .filter(l -> !l.isBlank()).map(l -> l.split("\t")).toList();
        if (rows.isEmpty()) {
            String known = String.join(", ", system.execute("SELECT DISTINCT cluster FROM system.clusters FORMAT TabSeparated")
                    .lines().filter(l -> !l.isBlank()).toList());
            throw new FeaturepipeException("ClickHouse at " + entry.base() + " has no cluster '" + name + "' in its"
                    + " remote_servers (FP_CLICKHOUSE_CLUSTER); it has: " + (known.isEmpty() ? "none" : known));
        }
        int localTcp = rows.stream().filter(r -> r[3].equals("1")).mapToInt(r -> Integer.parseInt(r[2])).findFirst()
                .orElse(-1);
        URI base = entry.base();
        List<Node> nodes = new ArrayList<>();
        for (String[] r : rows) {
            int tcp = Integer.parseInt(r[2]);
            int http = base.getPort() + (localTcp < 0 ? 0 : tcp - localTcp);
            try {
                URI url = new URI(base.getScheme(), null, r[1], http, null, null, null);
                nodes.add(new Node(Integer.parseInt(r[0]), Integer.parseInt(r[4]), entry.at(url)));
            } catch (URISyntaxException e) {
                throw new FeaturepipeException("cluster '" + name + "' names a host that is no URL host: " + r[1], e);
            }
        }
        return new ClickHouseCluster(name, Integer.parseInt(rows.get(rows.size() - 1)[0]), nodes);
    }
}
