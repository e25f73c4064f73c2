package dev.featurepipe.core.registry;

import java.util.Locale;

/** How an event updates a profile field of its entity's document. */
public enum ProfileRule {
    /** the value of the most recently applied event */
    SET,
    /** the value of the first applied event; later ones leave it */
    SET_ONCE,
    /** add the value */
    INC,
    /** keep the largest value */
    MAX,
    /** keep the smallest value */
    MIN;

    public boolean numeric() {
        return this == INC || this == MAX || this == MIN;
    }

    public String registryName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
