package dev.featurepipe.core;

import dev.featurepipe.core.registry.BatchFeature;
import java.time.Duration;
import java.util.List;

/** The online side of batch features: their materialized values, and the marks of the runs that wrote them. */
public interface BatchValueStore {

    /**
     * What the store knows of a feature's runs (0: none): the latest completed run, the latest completed full run,
     * and a run whose writes began and did not complete.
     */
    record Marks(long computedAt, long fullAt, long writing) {
    }

    /** One entity's value as text, or null text to remove it. */
    record Write(String entityId, String text) {
    }

    Marks marks(BatchFeature f);

    /** Claims materializing {@code f} for at most {@code hold}; false when another process holds the claim. */
    boolean tryLock(BatchFeature f, Duration hold);

    void unlock(BatchFeature f);

    void beginWrite(BatchFeature f, long computedAt);

    /** Writes values computed at {@code computedAt}, each expiring after the feature's ttl; removes null ones. */
    void write(BatchFeature f, List<Write> values, long computedAt);

    void endWrite(BatchFeature f, long computedAt, boolean full);
}
