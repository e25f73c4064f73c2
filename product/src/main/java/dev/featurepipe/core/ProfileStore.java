package dev.featurepipe.core;

import java.util.List;
import java.util.Map;

/** Entity profile documents, kept by the registry's profile rules. */
public interface ProfileStore {

    /** Applies the profile rules of each event once, by its entity's sequence number; a number seen before is skipped. */
    void apply(List<SequencedEvent> events);

    /** The ids of up to {@code limit} profiles of the entity (any; for warming the read path), none by default. */
    default List<String> sampleIds(String entity, int limit) {
        return List.of();
    }

    /** The profile fields of each id that has a profile, by id, in one query. */
    Map<String, Map<String, Object>> read(String entity, List<String> ids);
}
