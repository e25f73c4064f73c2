package dev.featurepipe.core.registry;

import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.expr.Expr;
import java.math.BigDecimal;
import java.util.List;

/**
 * A feature folded from the events of one type that pass its filter, over one or more windows (one served
 * value per window, named {@code <name>_<window>}, or just {@code <name>} when its only window is lifetime).
 *
 * @param value what is aggregated; null for count, first_seen and last_seen
 * @param filter which events count; null for all
 * @param n how many values last_n keeps; 0 for the others
 * @param distinct for last_n: keep each value once, at its latest time
 * @param scale the scale of a decimal value (see {@link FieldType#DECIMAL}); 0 for the others
 */
public record AggregateFeature(String name, String entity, String eventType, Aggregation aggregation, Expr value,
                               Expr filter, List<Window> windows, int n, boolean distinct, int scale) {
    public AggregateFeature {
        windows = List.copyOf(windows);
    }

    /** The type of the served value (a list of it for last_n). */
    public FieldType resultType() {
        return switch (aggregation) {
            case COUNT, COUNT_DISTINCT, FIRST_SEEN, LAST_SEEN -> FieldType.LONG;
            case AVG, VARIANCE, STDDEV -> FieldType.DOUBLE;
            default -> value.type();
        };
    }

    /** The value over a window without events: 0 of the result type for count, sum and count_distinct, else null. */
    public Object emptyValue() {
        if (!aggregation.zeroWhenEmpty()) {
            return null;
        }
        return switch (resultType()) {
            case DOUBLE -> 0.0;
            case DECIMAL -> BigDecimal.ZERO.setScale(scale);
            default -> 0L;
        };
    }

    public String servedName(Window w) {
        return windows.size() == 1 && w.isLifetime() ? name : name + "_" + w.label();
    }
}
