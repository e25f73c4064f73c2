package dev.featurepipe.core.registry;

import dev.featurepipe.core.FieldType;

/** A typed field an event type declares. */
public record FieldDef(String name, FieldType type, boolean required) {
}
