package dev.featurepipe.demo;

import java.util.List;
import java.util.Map;

/**
 * What a replay did: rows read, events the API accepted (of them, duplicates of events it already had),
 * events it rejected by reason, and the customers seen last.
 */
public record ReplaySummary(long rowsRead, long accepted, long duplicates, Map<String, Long> rejectedByReason,
                            double seconds, List<String> lastCustomers) {

    public long rejected() {
        return rejectedByReason.values().stream().mapToLong(Long::longValue).sum();
    }

    public double eventsPerSecond() {
        return seconds > 0 ? rowsRead / seconds : 0;
    }
}
