package dev.featurepipe.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class EventTest {
    private static Event event(String type, String entityId, String id) {
        return new Event(id, type, entityId, 0, Map.of());
    }

    @Test
    void theKeyTellsApartEveryTripleEvenWhenTheIdsHoldSeparatorsAndDigits() {
        List<Event> events = List.of(event("purchase", "c1", "e1"), event("refund", "c1", "e1"),
                event("purchase", "c2", "e1"), event("purchase", "c1", "e2"),
                event("a", "b:c", "d"), event("a", "b", ":cd"), event("a:b", "c", "d"), event("a", "1:b", "c"),
                event("a", "1", ":bc"), event("1:a", "b", "c"), event("x", "{tag}", "}{"), event("x", "{tag}}", "{"),
                event("t", "12", "3"), event("t", "1", "23"), event("t", "", "123"));
        Set<String> keys = events.stream().map(Event::key).collect(Collectors.toSet());
        assertThat(keys).hasSameSizeAs(events);
        assertThat(event("purchase", "c1", "e1").key()).isEqualTo(event("purchase", "c1", "e1").key());
    }
}
