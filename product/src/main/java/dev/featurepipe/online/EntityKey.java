package dev.featurepipe.online;

/** One entity, whose window cache every write to its state invalidates. */
public record EntityKey(String entity, String id) {
}
