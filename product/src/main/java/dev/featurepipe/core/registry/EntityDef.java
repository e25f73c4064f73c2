package dev.featurepipe.core.registry;

/** A kind of thing features describe (a customer, a card), identified in events by its key field. */
public record EntityDef(String name, String keyField) {
}
