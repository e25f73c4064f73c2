package dev.featurepipe.core.registry;

/**
 * A field of the entity's profile document, kept by a rule applied to each event of one type.
 *
 * @param valueField the event field the value comes from, or null when {@code constant} is used
 * @param constant the number an {@code inc} adds when no field is named
 */
public record ProfileFeature(String name, String entity, String eventType, ProfileRule rule,
                             String valueField, Double constant) {
}
