package dev.featurepipe.services;

import java.time.Duration;

/**
 * The shape of a local Redis Cluster: {@code masters} masters with {@code replicas} replicas each, on
 * {@code masters * (1 + replicas)} consecutive loopback ports from {@code basePort}, the masters' first.
 *
 * @param nodeTimeout the nodes' {@code cluster-node-timeout}: how long a master may not answer before its replica
 *                    is promoted
 */
public record RedisClusterSpec(int masters, int replicas, int basePort, Duration nodeTimeout) {
    public RedisClusterSpec {
        if (masters < 3) {
            throw new IllegalArgumentException("a Redis Cluster needs at least 3 masters, not " + masters);
        }
        if (replicas < 0) {
            throw new IllegalArgumentException("replicas per master must be 0 or more, not " + replicas);
        }
        int last = basePort + masters * (1 + replicas) - 1;
        if (basePort < 1 || last + RedisLocal.CLUSTER_BUS_OFFSET > 65_535) {
            throw new IllegalArgumentException(String.format("%d nodes from port %d need ports %d-%d and their"
                    + " cluster bus ports %d-%d; choose a base port from 1 to %d", nodes(masters, replicas), basePort,
                    basePort, last, basePort + RedisLocal.CLUSTER_BUS_OFFSET, last + RedisLocal.CLUSTER_BUS_OFFSET,
                    65_535 - RedisLocal.CLUSTER_BUS_OFFSET - nodes(masters, replicas) + 1));
        }
        if (nodeTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("the cluster node timeout must be 1 ms or more, not " + nodeTimeout);
        }
    }

    public int nodes() {
        return nodes(masters, replicas);
    }

    private static int nodes(int masters, int replicas) {
        return masters * (1 + replicas);
    }
}
