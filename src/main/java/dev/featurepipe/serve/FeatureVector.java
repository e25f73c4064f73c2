package dev.featurepipe.serve;

import java.util.Map;

/**
 * The features of one entity: values by name (null when unknown) and a status per feature: {@code ok},
 * {@code missing} (no state for this entity) or {@code unavailable} (its store did not answer).
 */
public record FeatureVector(String entity, String id, Map<String, Object> features, Map<String, String> status) {
}
