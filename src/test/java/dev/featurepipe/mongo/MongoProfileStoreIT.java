package dev.featurepipe.mongo;

import static org.assertj.core.api.Assertions.assertThat;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.it.InProcessMongo;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Profile rules through the real MongoDB driver against the embedded MongoDB-protocol server. */
class MongoProfileStoreIT {
    private final Registry registry = RegistryLoader.load(Path.of("src/test/resources/registry/it.yaml"));
    private InProcessMongo mongo;
    private MongoProfileStore store;

    @BeforeEach
    void start() {
        mongo = new InProcessMongo();
        store = new MongoProfileStore(mongo.database("test"), registry, 100);
    }

    @AfterEach
    void stop() {
        mongo.close();
    }

    private static Event order(String id, String user, double amount, String country) {
        return new Event(id, "order", user, 1_000, country == null ? Map.of("amount", amount, "sku", "a")
                : Map.of("amount", amount, "sku", "a", "country", country));
    }

    @Test
    void setKeepsTheLatestValueAndIncAddsEveryEventOnce() {
        store.apply(List.of(order("e1", "u1", 2.5, "France"), order("e2", "u1", 4.0, null), order("e3", "u1", 1.0, "Spain")));

        assertThat(store.read("user", List.of("u1")).get("u1"))
                .containsEntry("country", "Spain").containsEntry("order_count", 3L).containsEntry("total_spend", 7.5);
    }

    @Test
    void setOnceKeepsTheFirstValueAndMaxMinKeepTheExtremesOfEventsPassingTheFilter() {
        store.apply(List.of(order("e1", "u1", 5, null), order("e2", "u1", 12, "France"), order("e3", "u1", 30, "Spain")));
        store.apply(List.of(order("e4", "u1", 11, "Italy"), order("e5", "u1", 2, "Peru")));

        assertThat(store.read("user", List.of("u1")).get("u1"))
                .containsEntry("first_country", "France")
                .containsEntry("max_amount", 30.0)
                .containsEntry("min_big_amount", 11.0)
                .containsEntry("country", "Peru");
    }

    @Test
    void theSameEventTwiceInABatchOrAgainLaterIsAppliedOnce() {
        Event e1 = order("e1", "u1", 2.5, "France");
        store.apply(List.of(e1, e1));
        store.apply(List.of(e1));

        assertThat(store.read("user", List.of("u1")).get("u1")).containsEntry("order_count", 1L).containsEntry("total_spend", 2.5);
    }

    @Test
    void aBatchCutDifferentlyOnRedeliveryAppliesOnlyTheNewEvents() {
        Event e1 = order("e1", "u1", 1, "France");
        Event e2 = order("e2", "u1", 10, "Italy");
        Event e3 = order("e3", "u1", 100, "Spain");
        store.apply(List.of(e1, e2));
        store.apply(List.of(e2, e3)); // e2 redelivered together with a new event

        assertThat(store.read("user", List.of("u1")).get("u1"))
                .containsEntry("order_count", 3L).containsEntry("total_spend", 111.0).containsEntry("country", "Spain");
    }

    @Test
    void profilesOfManyIdsComeInOneReadAndUnknownIdsAreAbsent() {
        store.apply(List.of(order("e1", "u1", 1, "France"), order("e2", "u2", 2, "Italy")));

        Map<String, Map<String, Object>> read = store.read("user", List.of("u1", "u2", "nobody"));

        assertThat(read).containsOnlyKeys("u1", "u2");
        assertThat(read.get("u2")).containsEntry("country", "Italy").doesNotContainKey("_applied");
    }
}
