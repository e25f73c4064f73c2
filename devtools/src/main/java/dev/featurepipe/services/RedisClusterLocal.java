package dev.featurepipe.services;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * A Redis Cluster on loopback: the nodes of a {@link RedisClusterSpec}, each a {@link RedisLocal} in
 * {@code dir/<port>/} that {@link LocalServices} starts like any server; once they all answer, {@link #form}
 * makes them one cluster with {@code redis-cli --cluster create} (when none belongs to a cluster yet) and waits
 * until it is healthy.
 */
final class RedisClusterLocal {
    static final String HOST = "127.0.0.1";
    private static final int SLOTS = 16_384;

    private final RedisClusterSpec spec;
    private final Path dir;
    private final List<RedisLocal> nodes;

    RedisClusterLocal(RedisClusterSpec spec, String fsync, Path dir) {
        this.spec = spec;
        this.dir = dir;
        this.nodes = IntStream.range(spec.basePort(), spec.basePort() + spec.nodes())
                .mapToObj(port -> node(port, fsync, spec.nodeTimeout(), dir)).toList();
    }

    /** The node at {@code port} of a cluster whose nodes live in {@code dir}. */
    static RedisLocal node(int port, String fsync, Duration nodeTimeout, Path dir) {
        return RedisLocal.clusterNode(HOST, port, fsync, nodeTimeout, dir.resolve(String.valueOf(port)));
    }

    List<RedisLocal> nodes() {
        return nodes;
    }

    /**
     * {@code redis-cluster://host:port,...} with the nodes created as masters as seeds (after a failover a seed may
     * be a replica; a cluster client learns the current masters from any node).
     */
    String url() {
        return "redis-cluster://" + nodes.subList(0, spec.masters()).stream().map(RedisLocal::address)
                .collect(Collectors.joining(","));
    }

    /** {@code host:first-last}, the ports of the nodes. */
    String addresses() {
        return HOST + ":" + spec.basePort() + "-" + (spec.basePort() + spec.nodes() - 1);
    }

    String describe() {
        return spec.replicas() == 0 ? spec.masters() + " masters, no replicas"
                : String.format(Locale.ROOT, "%d masters with %d replica%s each", spec.masters(), spec.replicas(),
                        spec.replicas() == 1 ? "" : "s");
    }

    /**
     * Makes the nodes, which all answer, one healthy cluster: uses it as is when it is one, creates it when no node
     * belongs to a cluster yet, else waits for the one they form (e.g. after a restart).
     *
     * @return what it did, for the log
     */
    String form(Path redisCli, Duration timeout) {
        if (problem().isEmpty()) {
            return "already healthy, " + describe() + ", used as is";
        }
        List<RedisLocal> fresh = new ArrayList<>();
        for (RedisLocal node : nodes) {
            String info = clusterInfo(node);
            if (field(info, "cluster_known_nodes").equals("1") && field(info, "cluster_slots_assigned").equals("0")) {
                fresh.add(node);
            } else if (!field(info, "cluster_known_nodes").equals(String.valueOf(spec.nodes()))) {
                throw new ServiceException(String.format("%s already belongs to a Redis Cluster of %s nodes, not the"
                        + " %d asked for (%s); stop it with ./fp services down and remove %s to start afresh",
                        node.address(), field(info, "cluster_known_nodes"), spec.nodes(), describe(), dir));
            }
        }
        long t0 = System.nanoTime();
        String what;
        if (fresh.size() == nodes.size()) {
            create(redisCli);
            what = "created";
        } else if (fresh.isEmpty()) {
            what = "formed again";
        } else {
            throw new ServiceException(String.format("%s belong to no Redis Cluster yet but the other nodes of %s do;"
                    + " stop them with ./fp services down and remove %s to start afresh",
                    fresh.stream().map(RedisLocal::address).toList(), url(), dir));
        }
        Optional<String> problem = awaitHealthy(timeout);
        if (problem.isPresent()) {
            throw new ServiceException(String.format("the Redis Cluster at %s was not healthy within %d s: %s;"
                    + " node logs in %s/<port>/redis.log", url(), timeout.toSeconds(), problem.get(), dir));
        }
        return String.format(Locale.ROOT, "%s, %s, healthy in %.1f s", what, describe(), (System.nanoTime() - t0) / 1e9);
    }

    private void create(Path redisCli) {
        List<String> command = new ArrayList<>(List.of(redisCli.toString(), "--cluster", "create"));
        nodes.forEach(n -> command.add(n.address()));
        command.addAll(List.of("--cluster-replicas", String.valueOf(spec.replicas()), "--cluster-yes"));
        Path log = dir.resolve("create.log");
        try {
            LocalServer.runLauncher(command, dir, log);
        } catch (IOException e) {
            throw new ServiceException(String.format("redis-cli --cluster create failed (%s); its output, last lines:%n%s",
                    e.getMessage(), LocalServices.tail(log, 20)), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ServiceException("interrupted while creating the Redis Cluster at " + url(), e);
        }
    }

    private Optional<String> awaitHealthy(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Optional<String> problem = problem();
        while (problem.isPresent() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ServiceException("interrupted while waiting for the Redis Cluster at " + url(), e);
            }
            problem = problem();
        }
        return problem;
    }

    /**
     * What keeps the nodes from being the healthy cluster of {@link #spec}, or empty: every node says
     * {@code cluster_state:ok}, the cluster is exactly these nodes, all connected, with the asked number of masters
     * serving all slots, each with the asked number of replicas, and every replica's link to its master up.
     */
    Optional<String> problem() {
        try {
            for (RedisLocal node : nodes) {
                String state = field(node.call("CLUSTER INFO"), "cluster_state");
                if (!state.equals("ok")) {
                    return Optional.of(node.address() + " has cluster_state:" + state);
                }
            }
            List<ClusterNode> view = ClusterNode.parse(nodes.get(0).call("CLUSTER NODES"));
            Set<String> expected = nodes.stream().map(RedisLocal::address).collect(Collectors.toSet());
            Set<String> actual = view.stream().map(ClusterNode::address).collect(Collectors.toSet());
            if (!actual.equals(expected)) {
                return Optional.of("the cluster's nodes are " + actual + ", not " + expected);
            }
            for (ClusterNode n : view) {
                if (!n.connected() || n.flags().contains("fail") || n.flags().contains("fail?")
                        || n.flags().contains("handshake") || n.flags().contains("noaddr")) {
                    return Optional.of(n.address() + " is " + String.join(",", n.flags()) + ", link " + n.link());
                }
            }
            List<ClusterNode> masters = view.stream().filter(n -> n.flags().contains("master")).toList();
            int slots = masters.stream().mapToInt(ClusterNode::slots).sum();
            if (masters.size() != spec.masters() || slots != SLOTS) {
                return Optional.of(masters.size() + " masters serve " + slots + " of " + SLOTS + " slots");
            }
            for (ClusterNode master : masters) {
                long replicas = view.stream().filter(n -> n.master().equals(master.id())).count();
                if (replicas != spec.replicas()) {
                    return Optional.of(master.address() + " has " + replicas + " replicas");
                }
            }
            for (ClusterNode replica : view.stream().filter(n -> n.flags().contains("slave")).toList()) {
                RedisLocal node = nodes.stream().filter(x -> x.address().equals(replica.address())).findFirst().orElseThrow();
                String link = field(node.call("INFO replication"), "master_link_status");
                if (!link.equals("up")) {
                    return Optional.of("replica " + replica.address() + " has master_link_status:" + link);
                }
            }
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of(e.getMessage());
        }
    }

    private static String clusterInfo(RedisLocal node) {
        try {
            String info = node.call("CLUSTER INFO");
            if (info.startsWith("-")) {
                throw new ServiceException(node.address() + " is no Redis Cluster node: CLUSTER INFO answered " + info);
            }
            return info;
        } catch (IOException e) {
            throw new ServiceException("cannot ask " + node.address() + " for CLUSTER INFO: " + e.getMessage(), e);
        }
    }

    /** A {@code name:value} line of an INFO-style reply, "" when absent. */
    private static String field(String info, String name) {
        return info.lines().filter(l -> l.startsWith(name + ":")).map(l -> l.substring(name.length() + 1).trim())
                .findFirst().orElse("");
    }

    /** One line of CLUSTER NODES: {@code id host:port@bus flags master ping pong epoch link slot...}. */
    private record ClusterNode(String id, String address, Set<String> flags, String master, String link, int slots) {
        static List<ClusterNode> parse(String reply) throws IOException {
            if (reply.startsWith("-")) {
                throw new IOException("CLUSTER NODES answered " + reply);
            }
            List<ClusterNode> result = new ArrayList<>();
            for (String line : reply.lines().filter(l -> !l.isBlank()).toList()) {
                String[] f = line.trim().split(" ");
                if (f.length < 8) {
                    throw new IOException("unexpected CLUSTER NODES line: " + line);
                }
                int slots = 0;
                for (String range : Arrays.asList(f).subList(8, f.length)) {
                    if (!range.startsWith("[")) { // [slot->-id]: a slot being migrated, counted where it is
                        int dash = range.indexOf('-');
                        slots += dash < 0 ? 1
                                : Integer.parseInt(range.substring(dash + 1)) - Integer.parseInt(range.substring(0, dash)) + 1;
                    }
                }
                String address = f[1].split("[@,]")[0];
                result.add(new ClusterNode(f[0], address, new HashSet<>(Arrays.asList(f[2].split(","))), f[3], f[7],
                        slots));
            }
            return result;
        }

        boolean connected() {
            return link.equals("connected");
        }
    }
}
