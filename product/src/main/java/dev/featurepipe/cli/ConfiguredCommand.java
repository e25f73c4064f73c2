package dev.featurepipe.cli;

import dev.featurepipe.config.Config;
import dev.featurepipe.config.Setting;
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
}
