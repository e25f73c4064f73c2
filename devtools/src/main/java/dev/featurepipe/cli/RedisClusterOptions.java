package dev.featurepipe.cli;

import dev.featurepipe.config.Config;
import dev.featurepipe.config.Setting;
import dev.featurepipe.services.LocalServices;
import dev.featurepipe.services.RedisClusterSpec;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** The options that ask for a local Redis Cluster instead of the one Redis. */
final class RedisClusterOptions {
    @Option(names = "--redis-cluster", paramLabel = "N", arity = "0..1", fallbackValue = "3",
            description = "a Redis Cluster of N masters (3 when N is not given) instead of the one Redis, on"
                    + " consecutive ports from FP_LOCAL_REDIS_CLUSTER_PORT")
    Integer masters;

    @Option(names = "--replicas", paramLabel = "R", description = "replicas per master of the Redis Cluster (default 0)")
    Integer replicas;

    /** The local servers a command brought up, those it started, and its settings pointing at them. */
    record Up(LocalServices services, List<String> started, Config config) {
    }

    /**
     * Brings the local servers up, with the cluster asked for instead of the one Redis, and points the settings at it.
     *
     * @throws IllegalArgumentException as {@link #spec}
     */
    Up up(Config config, String command) {
        LocalServices services = ServicesCommand.localServices(config, spec(config));
        List<String> started = services.up();
        Config pointed = services.redisClusterUrl()
                .map(url -> config.with(Map.<Setting<?>, String>of(Config.REDIS_URL, url))).orElse(config);
        services.redisClusterUrl().ifPresent(url -> System.out.println(command + ": on the Redis Cluster " + url + ", "
                + config.get(Config.STREAM_SHARDS) + " stream shard(s) (FP_STREAM_SHARDS)"));
        return new Up(services, started, pointed);
    }

    /**
     * The cluster asked for, or null for the one Redis.
     *
     * @throws IllegalArgumentException for a shape that cannot be, or a cluster URL in the settings without the flag
     */
    RedisClusterSpec spec(Config config) {
        if (replicas != null && masters == null) {
            throw new IllegalArgumentException("--replicas is for a Redis Cluster; give --redis-cluster N too");
        }
        if (masters == null) {
            if (config.get(Config.REDIS_URL).getScheme().endsWith("-cluster")) {
                throw new IllegalArgumentException("FP_REDIS_URL names a Redis Cluster; give --redis-cluster N"
                        + " [--replicas R] to run one here, or unset it for the one local Redis");
            }
            return null;
        }
        return new RedisClusterSpec(masters, replicas == null ? 0 : replicas, config.get(Config.LOCAL_REDIS_CLUSTER_PORT),
                config.get(Config.LOCAL_REDIS_CLUSTER_NODE_TIMEOUT));
    }
}
