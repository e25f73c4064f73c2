package dev.featurepipe.config;

import java.util.Locale;
import java.util.function.Function;

/**
 * One configuration setting, declared once: its environment variable, its flag, its default, what it means, and
 * how its text becomes a value (the parser throws {@link IllegalArgumentException} with the reason).
 */
public record Setting<T>(String env, String defaultValue, String description, Function<String, T> parser) {

    /** The command-line flag: FP_HTTP_PORT is --http-port. */
    public String flag() {
        return "--" + env.substring("FP_".length()).toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
