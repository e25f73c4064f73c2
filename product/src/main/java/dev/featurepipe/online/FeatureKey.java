package dev.featurepipe.online;

/** The online state of one feature of one entity (a hash of tiles, or the recent values of last_n). */
public record FeatureKey(String entity, String id, String feature) {
}
