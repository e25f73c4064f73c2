package dev.featurepipe.core.registry;

import java.util.Locale;
import java.util.Optional;

/** How an event updates a profile field of its entity's document. */
public enum ProfileRule {
    /** the value of the most recently applied event */
    SET,
    /** add the value (a numeric field or a constant) */
    INC;

    public String registryName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<ProfileRule> byRegistryName(String name) {
        for (ProfileRule r : values()) {
            if (r.registryName().equals(name)) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }
}
