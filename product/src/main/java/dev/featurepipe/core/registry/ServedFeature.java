package dev.featurepipe.core.registry;

/** A value the serving API returns by name, and where it comes from. */
public sealed interface ServedFeature {
    String name();

    /** An aggregate feature over one of its windows (last_n: its lifetime list). */
    record WindowValue(String name, AggregateFeature feature, Window window) implements ServedFeature {
    }

    /** A batch feature's value, computed in ClickHouse and materialized. */
    record BatchValue(String name, BatchFeature feature) implements ServedFeature {
    }

    /** A field of the entity's profile document. */
    record ProfileValue(String name, ProfileFeature feature) implements ServedFeature {
    }
}
