package dev.featurepipe.core;

import java.util.Map;
import java.util.Set;

/**
 * One validated event: its idempotency key, its type, the id of the entity it belongs to, its event time
 * (epoch ms, already clamped to the ingest time) and the registered fields it carries, typed.
 */
public record Event(String id, String type, String entityId, long ts, Map<String, Object> fields) {
    /** Names every event carries besides its declared fields (entity_id is the key's column offline). */
    public static final Set<String> ENVELOPE = Set.of("event_id", "event_type", "ts", "entity_id");
    /** The offline store's name for the time the log appended an event; no field may take it either. */
    public static final String INGESTED_AT = "ingested_at";

    public Event {
        fields = Map.copyOf(fields);
    }

    public Object field(String name) {
        return fields.get(name);
    }
}
