package dev.featurepipe.serve;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/**
 * The features of one entity: values by name (null when unknown), a status per feature ({@code ok}, {@code missing},
 * {@code stale}, {@code timeout}, {@code unavailable}; see the README), and for batch features served, the time
 * (epoch ms) of the last computation of each value.
 */
public record FeatureVector(String entity, String id, Map<String, Object> features, Map<String, String> status,
                            @JsonProperty("computed_at") Map<String, Long> computedAt) {
}
