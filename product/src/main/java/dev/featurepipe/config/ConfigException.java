package dev.featurepipe.config;

import dev.featurepipe.core.FeaturepipeException;

/** A setting has a value that cannot be used; the message names the setting. */
public class ConfigException extends FeaturepipeException {
    public ConfigException(String message) {
        super(message);
    }
}
