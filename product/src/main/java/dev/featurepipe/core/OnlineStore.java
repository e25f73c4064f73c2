package dev.featurepipe.core;

import dev.featurepipe.core.registry.ServedFeature;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/** Low-latency state per entity: windowed aggregates and recent values, updated per event. */
public interface OnlineStore {

    /**
     * What applying a batch did.
     *
     * @param sequenced the events of the batch applied now or by an earlier delivery, with their numbers, each once
     */
    record ApplyResult(int applied, int duplicates, int late, List<SequencedEvent> sequenced) {
        /** Both results as one. */
        public ApplyResult plus(ApplyResult other) {
            List<SequencedEvent> both = new ArrayList<>(sequenced);
            both.addAll(other.sequenced);
            return new ApplyResult(applied + other.applied, duplicates + other.duplicates, late + other.late, both);
        }
    }

    /**
     * Applies each event's updates at most once (by {@link Event#key() key}) and numbers it among its entity's
     * events; last_n ties in event time go by log position.
     */
    ApplyResult apply(List<LoggedEvent> events);

    /** How long a caller without a deadline of its own waits for a read. */
    Duration PATIENT = Duration.ofSeconds(15);

    /**
     * Reads {@code features} of {@code entity} for each id as of {@code now}, in one round trip; features without
     * online state are absent from an id's map. A batch feature's value comes as {@link Materialized}, with the
     * time it was last computed.
     *
     * @throws StoreTimeoutException when the answer takes longer than {@code timeout}
     */
    Map<String, Map<String, Object>> read(String entity, List<String> ids, Collection<ServedFeature> features, long now,
                                         Duration timeout);

    /** {@link #read(String, List, Collection, long, Duration)} waiting up to {@link #PATIENT}. */
    default Map<String, Map<String, Object>> read(String entity, List<String> ids, Collection<ServedFeature> features,
                                                 long now) {
        return read(entity, ids, features, now, PATIENT);
    }
}
