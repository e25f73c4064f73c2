package dev.featurepipe.core;

import java.util.List;

/**
 * An event as read back from the log, with its position there (positions order events by arrival). A position
 * starts with the time the log appended the event, in epoch ms, as a Redis stream entry id ({@code <ms>-<seq>})
 * does.
 */
public record LoggedEvent(String position, Event event) {

    /**
     * Events as if the log had appended each at its own event time: history loaded straight into a store, known
     * from the moment it happened.
     */
    public static List<LoggedEvent> asHistory(List<Event> events) {
        return events.stream().map(e -> new LoggedEvent(e.ts() + "-0", e)).toList();
    }

    /** When the log appended the event (epoch ms): from then on the stores could know it. */
    public long loggedAt() {
        int end = position.indexOf('-');
        return Long.parseLong(end < 0 ? position : position.substring(0, end));
    }
}
