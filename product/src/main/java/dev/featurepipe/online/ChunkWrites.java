package dev.featurepipe.online;

import java.util.List;

/**
 * What a chunk of events writes, all or nothing: the events' applied marks (the writes happen only if none exists
 * yet), each with the entity it changes, whose window cache the writes invalidate and which numbers the entity's
 * profiled events, and the operations in the order they run.
 *
 * @param ttlMs how long the applied marks and the window caches are kept
 */
public record ChunkWrites(List<Marked> appliedEvents, long ttlMs, List<StoreOp> ops) {
    public ChunkWrites {
        appliedEvents = List.copyOf(appliedEvents);
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
    public List<EntityKey> windowCaches() {
        return appliedEvents.stream().map(Marked::entity).distinct().toList();
    }
}
