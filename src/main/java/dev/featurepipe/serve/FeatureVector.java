package dev.featurepipe.serve;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/**
 * The features of one entity: values by name (null when unknown), a status per feature: {@code ok},
 * {@code missing} (no state for this entity) or {@code unavailable} (its store did not answer), and for batch
 * features served, the time (epoch ms) each value was computed.
 */
public record FeatureVector(String entity, String id, Map<String, Object> features, Map<String, String> status,
                            @JsonProperty("computed_at") Map<String, Long> computedAt) {
}
