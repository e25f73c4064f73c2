package dev.featurepipe.core;

/** A batch feature's value as the online store serves it, with the time it was computed (epoch ms). */
public record Materialized(Object value, long computedAt) {
}
