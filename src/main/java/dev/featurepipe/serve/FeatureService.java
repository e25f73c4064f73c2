package dev.featurepipe.serve;

import dev.featurepipe.core.Materialized;
import dev.featurepipe.core.OnlineStore;
import dev.featurepipe.core.ProfileStore;
import dev.featurepipe.core.StoreUnavailableException;
import dev.featurepipe.core.registry.FeatureSet;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.http.ApiException;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Assembles feature vectors from the online store and the profile store, one round trip to each per request. */
public final class FeatureService {
    private static final Logger log = LoggerFactory.getLogger(FeatureService.class);

    private final Registry registry;
    private final OnlineStore online;
    private final ProfileStore profiles;
    private final Clock clock;
    private final MeterRegistry metrics;
    private final int maxIds;

    public FeatureService(Registry registry, OnlineStore online, ProfileStore profiles, Clock clock,
                          MeterRegistry metrics, int maxIds) {
        this.registry = registry;
        this.online = online;
        this.profiles = profiles;
        this.clock = clock;
        this.metrics = metrics;
        this.maxIds = maxIds;
    }

    /**
     * @param names the features wanted; empty for all of the entity
     * @throws ApiException 404 for an unknown entity, 400 for unknown feature names or too many ids
     */
    public List<FeatureVector> vectors(String entity, List<String> ids, List<String> names) {
        if (registry.entity(entity).isEmpty()) {
            throw new ApiException(404, "unknown entity '" + entity + "'", List.of("known entities: " + registry.entityNames()));
        }
        if (ids.isEmpty() || ids.size() > maxIds) {
            throw new ApiException(400, "ask for 1 to " + maxIds + " ids per request, not " + ids.size(), List.of());
        }
        List<ServedFeature> features = select(entity, names);
        long now = clock.millis();
        Map<String, Map<String, Object>> onlineValues = online.read(entity, ids, features, now);
        boolean wantsProfile = features.stream().anyMatch(ServedFeature.ProfileValue.class::isInstance);
        Map<String, Map<String, Object>> profileValues = Map.of();
        boolean profileDown = false;
        if (wantsProfile) {
            try {
                profileValues = profiles.read(entity, ids);
            } catch (StoreUnavailableException e) {
                profileDown = true;
                metrics.counter("featurepipe.serve.source.failures", "source", "profile").increment();
                log.warn("serve: profile store unavailable, answering without profile fields: {}", e.getMessage());
            }
        }
        List<FeatureVector> vectors = new ArrayList<>(ids.size());
        for (String id : ids) {
            Map<String, Object> found = new LinkedHashMap<>(onlineValues.getOrDefault(id, Map.of()));
            found.putAll(profileValues.getOrDefault(id, Map.of()));
            Map<String, Object> values = new LinkedHashMap<>();
            Map<String, String> status = new LinkedHashMap<>();
            Map<String, Long> computedAt = new LinkedHashMap<>();
            for (ServedFeature f : features) {
                Object value = found.containsKey(f.name()) ? found.get(f.name()) : emptyValue(f);
                if (value instanceof Materialized m) {
                    value = m.value();
                    computedAt.put(f.name(), m.computedAt());
                }
                values.put(f.name(), value);
                status.put(f.name(), found.containsKey(f.name()) ? "ok"
                        : profileDown && f instanceof ServedFeature.ProfileValue ? "unavailable" : "missing");
            }
            vectors.add(new FeatureVector(entity, id, values, status, computedAt));
        }
        return vectors;
    }

    /**
     * The features a request asks for: those of its feature set, else the names it gives (empty: all).
     *
     * @param featureSet a feature set of the registry, or null
     * @throws ApiException 400 for an unknown feature set, one of another entity, or both a set and names
     */
    public List<String> wanted(String entity, List<String> names, String featureSet) {
        if (featureSet == null) {
            return names;
        }
        if (!names.isEmpty()) {
            throw new ApiException(400, "ask for features by name or by feature set, not both", List.of());
        }
        FeatureSet set = registry.featureSet(featureSet).orElseThrow(() -> new ApiException(400,
                "unknown feature set '" + featureSet + "'", List.of("feature sets: " + registry.featureSets().stream()
                        .map(FeatureSet::name).toList())));
        if (!set.entity().equals(entity)) {
            throw new ApiException(400, "feature set '" + featureSet + "' is of entity '" + set.entity() + "', not '"
                    + entity + "'", List.of());
        }
        return set.features();
    }

    /** What a feature is without any state: 0 for count, sum and count_distinct, else null. */
    private static Object emptyValue(ServedFeature f) {
        return f instanceof ServedFeature.WindowValue w && w.feature().aggregation().zeroWhenEmpty() ? (Object) 0L : null;
    }

    private List<ServedFeature> select(String entity, List<String> names) {
        Map<String, ServedFeature> served = registry.served(entity);
        if (names.isEmpty()) {
            return List.copyOf(served.values());
        }
        List<String> unknown = names.stream().filter(n -> !served.containsKey(n)).toList();
        if (!unknown.isEmpty()) {
            throw new ApiException(400, "unknown feature(s) of entity '" + entity + "': " + unknown,
                    List.of("features of '" + entity + "': " + served.keySet()));
        }
        return names.stream().distinct().map(served::get).toList();
    }

}
