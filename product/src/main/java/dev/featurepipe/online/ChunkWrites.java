package dev.featurepipe.online;

import java.util.List;
import java.util.Map;

/**
 * What a chunk of events writes, all or nothing: the events' applied marks (the writes happen only if none exists
 * yet), each with the entity it changes, whose state the writes change and which numbers the entity's
 * profiled events, and the operations in the order they run.
 *
 * @param ttlMs how long the applied marks are kept
 * @param stateTtlMs per entity type, how long an entity's state is kept after its last write (0: always)
 */
public record ChunkWrites(List<Marked> appliedEvents, long ttlMs, Map<String, Long> stateTtlMs, List<StoreOp> ops) {
    public ChunkWrites {
        appliedEvents = List.copyOf(appliedEvents);
        stateTtlMs = Map.copyOf(stateTtlMs);
        ops = List.copyOf(ops);
    }

    /**
     * An event of the chunk, by {@link dev.featurepipe.core.Event#key() key}, and the entity it changes.
     *
     * @param profiled whether its type has profile rules: only those are numbered among the entity's events
     */
    public record Marked(String eventKey, EntityKey entity, boolean profiled) {
    }

    /** The entities the chunk changes, in the order their first event comes. */
    public List<EntityKey> entities() {
        return appliedEvents.stream().map(Marked::entity).distinct().toList();
    }
}
