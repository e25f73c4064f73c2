package dev.featurepipe.core.registry;

/** A value the serving API returns by name, and where it comes from. */
public sealed interface ServedFeature {
    String name();

    /** {@code count} or {@code sum} of an aggregate feature over one of its windows. */
    record WindowValue(String name, AggregateFeature feature, Window window) implements ServedFeature {
    }

    /** The values a {@code last_n} feature keeps, most recent first. */
    record RecentValues(String name, AggregateFeature feature) implements ServedFeature {
    }

    /** A field of the entity's profile document. */
    record ProfileValue(String name, ProfileFeature feature) implements ServedFeature {
    }
}
