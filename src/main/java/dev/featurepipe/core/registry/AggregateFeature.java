package dev.featurepipe.core.registry;

import java.util.List;

/**
 * A feature folded from the events of one type: {@code count}/{@code sum} over one or more windows (one served
 * value per window, named {@code <name>_<window>}), or the {@code last_n} values of a field.
 *
 * @param valueField the event field aggregated; null for count
 * @param n how many values last_n keeps; 0 for the others
 */
public record AggregateFeature(String name, String entity, String eventType, Aggregation aggregation,
                               String valueField, List<Window> windows, int n) {
    public AggregateFeature {
        windows = List.copyOf(windows);
    }
}
