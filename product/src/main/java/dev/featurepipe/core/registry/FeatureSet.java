package dev.featurepipe.core.registry;

import java.util.List;

/** A named list of one entity's served features: what one model asks for. */
public record FeatureSet(String name, String entity, List<String> features) {
}
