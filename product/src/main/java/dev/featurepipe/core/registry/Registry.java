package dev.featurepipe.core.registry;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The validated feature registry: entities, event types and the features computed from them. */
public final class Registry {
    private final Map<String, EntityDef> entities;
    private final Map<String, EventTypeDef> eventTypes;
    private final List<AggregateFeature> aggregates;
    private final List<ProfileFeature> profiles;
    private final List<BatchFeature> batches;
    private final Map<String, FeatureSet> featureSets = new LinkedHashMap<>();
    private final Map<String, Map<String, ServedFeature>> servedByEntity = new LinkedHashMap<>();
    private final Map<String, FieldDef> allFields = new LinkedHashMap<>();
    private final long onlineRetentionMs;

    Registry(Map<String, EntityDef> entities, Map<String, EventTypeDef> eventTypes,
             List<AggregateFeature> aggregates, List<ProfileFeature> profiles, List<BatchFeature> batches,
             List<FeatureSet> featureSets) {
        this.entities = Map.copyOf(entities);
        this.eventTypes = new LinkedHashMap<>(eventTypes);
        this.aggregates = List.copyOf(aggregates);
        this.profiles = List.copyOf(profiles);
        this.batches = List.copyOf(batches);
        featureSets.forEach(s -> this.featureSets.put(s.name(), s));
        entities.keySet().forEach(e -> servedByEntity.put(e, new LinkedHashMap<>()));
        for (AggregateFeature f : aggregates) {
            Map<String, ServedFeature> served = servedByEntity.get(f.entity());
            for (Window w : f.windows()) {
                String name = f.servedName(w);
                served.put(name, new ServedFeature.WindowValue(name, f, w));
            }
        }
        for (BatchFeature b : batches) {
            servedByEntity.get(b.entity()).put(b.name(), new ServedFeature.BatchValue(b.name(), b));
        }
        for (ProfileFeature p : profiles) {
            servedByEntity.get(p.entity()).put(p.name(), new ServedFeature.ProfileValue(p.name(), p));
        }
        eventTypes.values().forEach(t -> t.fields().values().forEach(f -> allFields.putIfAbsent(f.name(), f)));
        this.onlineRetentionMs = aggregates.stream().flatMap(f -> f.windows().stream())
                .filter(w -> !w.isLifetime()).mapToLong(Window::retentionMs).max().orElse(0);
    }

    public Optional<EntityDef> entity(String name) {
        return Optional.ofNullable(entities.get(name));
    }

    public Optional<EventTypeDef> eventType(String name) {
        return Optional.ofNullable(eventTypes.get(name));
    }

    public Collection<EventTypeDef> eventTypes() {
        return eventTypes.values();
    }

    /** Every field declared by any event type, by name (a name has one type across event types). */
    public Map<String, FieldDef> allFields() {
        return allFields;
    }

    public List<AggregateFeature> aggregatesOf(String eventType) {
        return aggregates.stream().filter(f -> f.eventType().equals(eventType)).toList();
    }

    public List<ProfileFeature> profilesOf(String eventType) {
        return profiles.stream().filter(p -> p.eventType().equals(eventType)).toList();
    }

    /** The features computed by SQL in ClickHouse and materialized, in registry order. */
    public List<BatchFeature> batchFeatures() {
        return batches;
    }

    /** The features served for an entity, by served name, in registry order. */
    public Map<String, ServedFeature> served(String entity) {
        return servedByEntity.getOrDefault(entity, Map.of());
    }

    public Optional<FeatureSet> featureSet(String name) {
        return Optional.ofNullable(featureSets.get(name));
    }

    public Collection<FeatureSet> featureSets() {
        return featureSets.values();
    }

    /** How long online tiles must be kept: the longest finite window plus its tile (0 without one). */
    public long onlineRetentionMs() {
        return onlineRetentionMs;
    }

    public List<String> entityNames() {
        return new ArrayList<>(entities.keySet());
    }
}
