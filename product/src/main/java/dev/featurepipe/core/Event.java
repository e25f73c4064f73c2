package dev.featurepipe.core;

import java.util.Map;
import java.util.Set;

/**
 * One validated event: its event_id, its type, the id of the entity it belongs to, its event time (epoch ms,
 * already clamped to the ingest time) and the registered fields it carries, typed. The triple (type, entity id,
 * event_id) identifies it: see {@link #key()}.
 */
public record Event(String id, String type, String entityId, long ts, Map<String, Object> fields) {
    /** Names every event carries besides its declared fields (entity_id is the key's column offline). */
    public static final Set<String> ENVELOPE = Set.of("event_id", "event_type", "ts", "entity_id");
    /** The offline store's name for the time the log appended an event; no field may take it either. */
    public static final String INGESTED_AT = "ingested_at";

    public Event {
        fields = Map.copyOf(fields);
    }

    /**
     * The idempotency key, the one every store dedupes by: (event_type, entity id, event_id), the first two
     * length-prefixed so that no two triples give one key, whatever characters the ids hold.
     */
    public String key() {
        return type.length() + ":" + type + entityId.length() + ":" + entityId + id;
    }

    public Object field(String name) {
        return fields.get(name);
    }
}
