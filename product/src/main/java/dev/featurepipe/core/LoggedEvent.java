package dev.featurepipe.core;

/** An event as read back from the log, with its position there (positions order events by arrival). */
public record LoggedEvent(String position, Event event) {
}
