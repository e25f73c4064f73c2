package dev.featurepipe.core.registry;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.FieldType;
import java.time.Duration;

/**
 * A feature computed ahead of time by SQL over the raw events in ClickHouse, one value per entity, and materialized
 * into the online store. The SQL returns columns {@code entity_id} and {@code value}; it reads the events through
 * the placeholder {@code {events}}, which stands for the events with {@code ts <= {as_of}} ingested by then, and
 * may use {@code {as_of}} itself, the computation time in epoch ms. So a value computed at time t used no later
 * event and none that arrived later.
 *
 * @param ttl how long a written value is served when it is not written again
 * @param refresh how often {@code ./fp run} recomputes it
 */
public record BatchFeature(String name, String entity, FieldType type, String sql, Duration ttl, Duration refresh) {
    public static final String EVENTS = "{events}";
    public static final String AS_OF = "{as_of}";

    /** The SQL as of {@code asOf}, reading the events of {@code eventsTable} (a qualified name). */
    public String sqlAt(String eventsTable, long asOf) {
        String events = "(SELECT * FROM " + eventsTable + " FINAL WHERE ts <= " + asOf + " AND " + Event.INGESTED_AT
                + " <= " + asOf + ")";
        return sql.replace(EVENTS, events).replace(AS_OF, Long.toString(asOf));
    }
}
