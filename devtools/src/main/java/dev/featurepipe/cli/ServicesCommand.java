package dev.featurepipe.cli;

import dev.featurepipe.config.Config;
import dev.featurepipe.mongo.EmbeddedMongo;
import dev.featurepipe.services.LocalServices;
import dev.featurepipe.services.ServiceAddresses;
import java.net.URI;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "services", mixinStandardHelpOptions = true,
        description = "Start, stop or show the local Redis, ClickHouse and MongoDB-protocol servers (loopback only).")
final class ServicesCommand extends ConfiguredCommand {
    @Parameters(index = "0", paramLabel = "up|down|status", description = "up: install when missing, start, wait until they answer; "
            + "down: stop what up started; status: show what answers")
    String action;

    @Override
    public Integer call() {
        LocalServices services = localServices(config());
        switch (action) {
            case "up" -> services.up();
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
    static LocalServices localServices(Config config) {
        String uri = config.get(Config.MONGO_URI);
        URI mongo = URI.create(uri.equals(EmbeddedMongo.URI) ? Config.MONGO_URI.defaultValue() : uri);
        return new LocalServices(new ServiceAddresses(config.get(Config.REDIS_URL), config.get(Config.CLICKHOUSE_URL),
                config.get(Config.CLICKHOUSE_TCP_PORT), mongo.toString()), config.get(Config.LOCAL_REDIS_FSYNC),
                config.path(Config.DATA_DIR), System.out);
    }
}
