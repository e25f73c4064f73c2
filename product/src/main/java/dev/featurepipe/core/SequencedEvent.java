package dev.featurepipe.core;

/**
 * An event as the online store applied it, numbered in the order its entity's events were applied: each number is
 * given once, so a store that remembers the numbers it holds applies each event once however often it is
 * delivered, and in whatever order consumers deliver them.
 *
 * @param sequence       the event's number among its entity's events
 * @param startsSequence whether the entity's numbering started with this event: every number below it is settled
 *                       (it belongs to an earlier numbering, whose events are all applied)
 */
public record SequencedEvent(Event event, long sequence, boolean startsSequence) {
}
