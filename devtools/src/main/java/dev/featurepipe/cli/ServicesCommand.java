package dev.featurepipe.cli;

import dev.featurepipe.config.Config;
import dev.featurepipe.mongo.EmbeddedMongo;
import dev.featurepipe.services.LocalClickHouseCluster;
import dev.featurepipe.services.LocalServices;
import dev.featurepipe.services.RedisClusterSpec;
import dev.featurepipe.services.ServiceAddresses;
import java.net.URI;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "services", mixinStandardHelpOptions = true,
        description = "Start, stop or show the local Redis (or Redis Cluster), ClickHouse (or ClickHouse cluster) and"
                + " MongoDB-protocol servers (loopback only).")
final class ServicesCommand extends ConfiguredCommand {
    @Parameters(index = "0", paramLabel = "up|down|status", description = "up: install when missing, start, wait until they answer; "
            + "down: stop what up started; status: show what answers")
    String action;

    /** With it, {@code up} prints the FP_REDIS_URL that points at the cluster. */
    @Mixin
    RedisClusterOptions redisCluster;

    @Option(names = "--clickhouse-shards", paramLabel = "N", description = "up: N ClickHouse shards as one cluster (named by"
            + " FP_CLICKHOUSE_CLUSTER, default " + LocalClickHouseCluster.DEFAULT_NAME + "), on consecutive ports from those of"
            + " FP_CLICKHOUSE_URL and FP_CLICKHOUSE_TCP_PORT; prints the settings that point the pipeline at it."
            + " down, status: the cluster up started, unless given")
    Integer clickhouseShards;

    @Option(names = "--clickhouse-replicas", paramLabel = "R", defaultValue = "1", description = "up: R replicas per"
            + " ClickHouse shard (with a local ZooKeeper; FP_CLICKHOUSE_REPLICATED=true), on the ports after the shards'")
    int clickhouseReplicas;

    @Override
    public Integer call() {
        Config config = config();
        RedisClusterSpec cluster;
        LocalClickHouseCluster clickhouse;
        try {
            cluster = redisCluster.spec(config);
            clickhouse = clickhouseShards != null || clickhouseReplicas > 1
                    ? new LocalClickHouseCluster(clickhouseShards == null ? 1 : clickhouseShards, clickhouseReplicas, clusterName(config))
                    : action.equals("up") ? LocalClickHouseCluster.SINGLE
                    : LocalClickHouseCluster.startedIn(config.path(Config.DATA_DIR), clusterName(config));
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("fp services: " + e.getMessage());
            return 2;
        }
        LocalServices services = localServices(config, cluster, clickhouse);
        switch (action) {
            case "up" -> {
                services.up();
                services.redisClusterUrl().ifPresent(url -> System.out.println(Config.REDIS_URL.env() + "=" + url));
                if (clickhouse.shards() * clickhouse.replicas() > 1) {
                    clickhouse.settings(config.get(Config.CLICKHOUSE_URL), config.get(Config.CLICKHOUSE_TCP_PORT))
                            .forEach(System.out::println);
                }
            }
            case "down" -> services.down();
            case "status" -> services.status();
            default -> {
                spec.commandLine().getErr().println("fp services: unknown action '" + action + "' (up, down or status)");
                return 2;
            }
        }
        return 0;
    }

    private static String clusterName(Config config) {
        String name = config.get(Config.CLICKHOUSE_CLUSTER);
        return name.isEmpty() ? LocalClickHouseCluster.DEFAULT_NAME : name;
    }

    /**
     * The local servers at the configured addresses (the MongoDB-protocol server at the default one when embedded),
     * with one ClickHouse server.
     *
     * @param cluster null: one Redis at FP_REDIS_URL; else a Redis Cluster of this shape instead
     */
    static LocalServices localServices(Config config, RedisClusterSpec cluster) {
        return localServices(config, cluster, LocalClickHouseCluster.SINGLE);
    }

    private static LocalServices localServices(Config config, RedisClusterSpec cluster, LocalClickHouseCluster clickhouse) {
        String uri = config.get(Config.MONGO_URI);
        URI mongo = URI.create(uri.equals(EmbeddedMongo.URI) ? Config.MONGO_URI.defaultValue() : uri);
        return new LocalServices(new ServiceAddresses(config.get(Config.REDIS_URL), config.get(Config.CLICKHOUSE_URL),
                config.get(Config.CLICKHOUSE_TCP_PORT), mongo.toString()), config.get(Config.LOCAL_REDIS_FSYNC),
                cluster, clickhouse, config.path(Config.DATA_DIR), System.out);
    }
}
