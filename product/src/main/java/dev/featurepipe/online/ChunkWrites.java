package dev.featurepipe.online;

import java.util.List;

/**
 * What a chunk of events writes, all or nothing: the events' applied marks, by {@link dev.featurepipe.core.Event#key()
 * key} (the writes happen only if none exists yet), the window caches whose generation the writes bump, and the operations in the order they run.
 *
 * @param ttlMs how long the applied marks and the window caches are kept
 */
public record ChunkWrites(List<String> appliedEvents, List<EntityKey> windowCaches, long ttlMs, List<StoreOp> ops) {
    public ChunkWrites {
        appliedEvents = List.copyOf(appliedEvents);
        windowCaches = List.copyOf(windowCaches);
        ops = List.copyOf(ops);
    }
}
