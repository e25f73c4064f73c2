package dev.featurepipe.core.registry;

import java.util.Locale;

/** How an event updates a profile field of its entity's document. */
public enum ProfileRule {
    /** the value of the most recently applied event */
    SET,
    /** add the value (a numeric field or a constant) */
    INC;

    public String registryName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
