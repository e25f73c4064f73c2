package dev.featurepipe.core.registry;

import java.util.Map;

/** An event type: the entity it belongs to and its declared fields (in declaration order). */
public record EventTypeDef(String name, String entity, Map<String, FieldDef> fields) {
}
