package dev.featurepipe.core;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Entity profile documents, kept by the registry's profile rules. */
public interface ProfileStore {

    /** Applies the profile rules of each event at most once (by event id), in the given order. */
    void apply(List<Event> events);

    /** The profile fields of one entity, or empty when it has no profile. */
    Optional<Map<String, Object>> read(String entity, String id);
}
