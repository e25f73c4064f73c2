package dev.featurepipe.cli;

import dev.featurepipe.config.Config;
import dev.featurepipe.config.Setting;
import dev.featurepipe.mongo.EmbeddedMongo;
import dev.featurepipe.services.LocalServices;
import dev.featurepipe.services.ServiceAddresses;
import java.net.URI;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Spec;

/** A command that reads the configuration: FP_* variables, overridden by the setting flags. */
abstract class ConfiguredCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    /** The project directory, set by ./fp; relative paths in settings are resolved against it. */
    static Path home() {
        return Path.of(System.getProperty("fp.home", ".")).toAbsolutePath().normalize();
    }

    Config config() {
        Map<Setting<?>, String> flags = new HashMap<>();
        for (Setting<?> s : Config.ALL) {
            OptionSpec option = spec.findOption(s.flag());
            if (option != null && option.getValue() != null) {
                flags.put(s, option.getValue());
            }
        }
        return new Config(System.getenv(), flags, home());
    }

    /** The local servers at the configured addresses (the MongoDB-protocol server at the default one when embedded). */
    static LocalServices localServices(Config config) {
        String uri = config.get(Config.MONGO_URI);
        URI mongo = URI.create(uri.equals(EmbeddedMongo.URI) ? Config.MONGO_URI.defaultValue() : uri);
        return new LocalServices(new ServiceAddresses(config.get(Config.REDIS_URL), config.get(Config.CLICKHOUSE_URL),
                config.get(Config.CLICKHOUSE_TCP_PORT), mongo.toString()), config.path(Config.DATA_DIR), System.out);
    }
}
