package dev.featurepipe.core.registry;

import java.util.Locale;

/** How an aggregate feature folds the events of its type that pass its filter, within a window. */
public enum Aggregation {
    /** number of events */
    COUNT(Value.NONE),
    /** sum of the value (0 without events) */
    SUM(Value.NUMBER),
    /** smallest value */
    MIN(Value.NUMBER),
    /** largest value */
    MAX(Value.NUMBER),
    /** mean of the values */
    AVG(Value.NUMBER),
    /** number of distinct values */
    COUNT_DISTINCT(Value.ANY),
    /** the value of the latest event (by event time, ties by the larger event_id) */
    LAST(Value.ANY),
    /** the values of the n latest events, most recent first; lifetime only */
    LAST_N(Value.ANY),
    /** event time (epoch ms) of the earliest event */
    FIRST_SEEN(Value.NONE),
    /** event time (epoch ms) of the latest event */
    LAST_SEEN(Value.NONE),
    /** population variance of the values */
    VARIANCE(Value.NUMBER),
    /** population standard deviation of the values */
    STDDEV(Value.NUMBER);

    /**
     * A variance below this fraction of the mean square is reported as 0: what rounding leaves of
     * {@code E[x²] - E[x]²} when the values are all equal, summed in another order online and offline.
     */
    public static final double VARIANCE_FLOOR = 1e-12;

    /** What value expression an aggregation takes. */
    public enum Value { NONE, NUMBER, ANY }

    private final Value value;

    Aggregation(Value value) {
        this.value = value;
    }

    public Value value() {
        return value;
    }

    /** Whether the result is 0, not null, when the window holds no event. */
    public boolean zeroWhenEmpty() {
        return this == COUNT || this == SUM || this == COUNT_DISTINCT;
    }

    /**
     * The population variance {@code E[x²] - E[x]²} of {@code n > 0} values with these sums, one formula for the
     * online tiles and the offline SQL so that both round alike; 0 below {@link #VARIANCE_FLOOR}.
     */
    public static double variance(long n, double sum, double sumOfSquares) {
        double meanSquare = sumOfSquares / n;
        double variance = meanSquare - (sum / n) * (sum / n);
        return variance <= VARIANCE_FLOOR * meanSquare ? 0 : variance;
    }

    public String registryName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
