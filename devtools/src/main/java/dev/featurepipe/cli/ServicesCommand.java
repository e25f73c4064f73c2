package dev.featurepipe.cli;

import dev.featurepipe.config.Config;
import dev.featurepipe.mongo.EmbeddedMongo;
import dev.featurepipe.services.LocalServices;
import dev.featurepipe.services.RedisClusterSpec;
import dev.featurepipe.services.ServiceAddresses;
import java.net.URI;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "services", mixinStandardHelpOptions = true,
        description = "Start, stop or show the local Redis (or Redis Cluster), ClickHouse and MongoDB-protocol servers"
                + " (loopback only).")
final class ServicesCommand extends ConfiguredCommand {
    @Parameters(index = "0", paramLabel = "up|down|status", description = "up: install when missing, start, wait until they answer; "
            + "down: stop what up started; status: show what answers")
    String action;

    /** With it, {@code up} prints the FP_REDIS_URL that points at the cluster. */
    @Mixin
    RedisClusterOptions redisCluster;

    @Override
    public Integer call() {
        Config config = config();
        RedisClusterSpec cluster;
        try {
            cluster = redisCluster.spec(config);
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("fp services: " + e.getMessage());
            return 2;
        }
        LocalServices services = localServices(config, cluster);
        switch (action) {
            case "up" -> {
                services.up();
                services.redisClusterUrl().ifPresent(url -> System.out.println(Config.REDIS_URL.env() + "=" + url));
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

    /** The local servers at the configured addresses (the MongoDB-protocol server at the default one when embedded). */
    /** @param cluster null: one Redis at FP_REDIS_URL; else a Redis Cluster of this shape instead */
    static LocalServices localServices(Config config, RedisClusterSpec cluster) {
        String uri = config.get(Config.MONGO_URI);
        URI mongo = URI.create(uri.equals(EmbeddedMongo.URI) ? Config.MONGO_URI.defaultValue() : uri);
        return new LocalServices(new ServiceAddresses(config.get(Config.REDIS_URL), config.get(Config.CLICKHOUSE_URL),
                config.get(Config.CLICKHOUSE_TCP_PORT), mongo.toString()), config.get(Config.LOCAL_REDIS_FSYNC),
                cluster, config.path(Config.DATA_DIR), System.out);
    }
}
