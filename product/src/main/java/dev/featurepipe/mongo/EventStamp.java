package dev.featurepipe.mongo;

import dev.featurepipe.core.Event;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Comparator;
import org.bson.Document;

/**
 * Where an event stands in event time: by its time, ties by its id's bytes (as the online store and ClickHouse
 * order them). A profile's set and set_once fields keep the stamp of the event whose value they hold.
 */
record EventStamp(long ts, String eventId) implements Comparable<EventStamp> {
    /** Before every event: the stamp of a value kept before stamps were, which a set_once field keeps. */
    static final EventStamp FIRST = new EventStamp(Long.MIN_VALUE, "");
    private static final Comparator<EventStamp> ORDER = Comparator.comparingLong(EventStamp::ts)
            .thenComparing((a, b) -> Arrays.compareUnsigned(a.eventId.getBytes(StandardCharsets.UTF_8),
                    b.eventId.getBytes(StandardCharsets.UTF_8)));

    static EventStamp of(Event e) {
        return new EventStamp(e.ts(), e.id());
    }

    @Override
    public int compareTo(EventStamp other) {
        return ORDER.compare(this, other);
    }

    Document toDocument() {
        return new Document("ts", ts).append("id", eventId);
    }

    static EventStamp fromDocument(Document d) {
        return new EventStamp(((Number) d.get("ts")).longValue(), d.getString("id"));
    }
}
