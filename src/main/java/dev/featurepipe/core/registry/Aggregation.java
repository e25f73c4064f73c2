package dev.featurepipe.core.registry;

import java.util.Locale;

/** How an aggregate feature folds the events of its type. */
public enum Aggregation {
    /** number of events in the window */
    COUNT(false, true),
    /** sum of a numeric field over the window */
    SUM(true, true),
    /** the last n values of a field, most recent first (no window: the last n ever seen online) */
    LAST_N(true, false);

    private final boolean needsValue;
    private final boolean windowed;

    Aggregation(boolean needsValue, boolean windowed) {
        this.needsValue = needsValue;
        this.windowed = windowed;
    }

    public boolean needsValue() {
        return needsValue;
    }

    public boolean windowed() {
        return windowed;
    }

    public String registryName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
