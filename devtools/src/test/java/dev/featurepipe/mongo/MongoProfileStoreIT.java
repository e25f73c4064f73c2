package dev.featurepipe.mongo;

import static org.assertj.core.api.Assertions.assertThat;

import com.mongodb.event.CommandListener;
import com.mongodb.event.CommandStartedEvent;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.it.InProcessMongo;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.IntStream;
import org.bson.Document;
import org.bson.types.Decimal128;
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
    void aDecimalIsAddedExactlyAndReadBackAtItsScale() {
        Registry money = RegistryLoader.parse("""
                entities: {user: {key: user_id}}
                events: {order: {entity: user, fields: {price: {type: decimal, scale: 2}}}}
                profile:
                  - {name: spent, event: order, rule: inc, value: price}
                  - {name: dearest, event: order, rule: max, value: price}
                """, "test");
        MongoProfileStore decimals = new MongoProfileStore(mongo.database("money"), money, 100);
        decimals.apply(List.of(new Event("e1", "order", "u1", 1, Map.of("price", new BigDecimal("1.10"))),
                new Event("e2", "order", "u1", 2, Map.of("price", new BigDecimal("1700.00")))));
        decimals.apply(List.of(new Event("e3", "order", "u1", 3, Map.of("price", new BigDecimal("0.05")))));
        // as a store may keep it: 1700.00 normalized to 1.7E+3
        mongo.database("money").getCollection("user").insertOne(new Document("_id", "u2")
                .append("dearest", new Decimal128(new BigDecimal("1.7E+3"))));

        Map<String, Map<String, Object>> read = decimals.read("user", List.of("u1", "u2"));
        assertThat(read.get("u1").get("spent")).isEqualTo(new BigDecimal("1701.15"));
        assertThat(read.get("u1").get("dearest")).isEqualTo(new BigDecimal("1700.00"));
        assertThat(read.get("u2").get("dearest")).isEqualTo(new BigDecimal("1700.00"));
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
    void anEventIsRememberedForTheDocumentsLastUpdatesHoweverManyEventsTheyHeld() {
        MongoProfileStore twoUpdates = new MongoProfileStore(mongo.database("test"), registry, 2);
        List<Event> first = IntStream.range(0, 5).mapToObj(i -> order("a" + i, "u1", 1, null)).toList();
        twoUpdates.apply(first);
        twoUpdates.apply(List.of(order("b", "u1", 10, null)));
        twoUpdates.apply(List.of(first.get(0), order("c", "u1", 100, null))); // a0 is in the last two updates

        assertThat(twoUpdates.read("user", List.of("u1")).get("u1")).containsEntry("order_count", 7L).containsEntry("total_spend", 115.0);

        twoUpdates.apply(List.of(first.get(0))); // the last two updates now are {b} and {c}
        assertThat(twoUpdates.read("user", List.of("u1")).get("u1")).containsEntry("order_count", 8L);
    }

    @Test
    void aSetOnceFieldTheStoreSetIsNotSentAgainAndOthersStillAre() {
        List<String> sent = new CopyOnWriteArrayList<>(); // the filter of every update statement
        try (InProcessMongo counted = new InProcessMongo(new CommandListener() {
            @Override
            public void commandStarted(CommandStartedEvent event) {
                if (event.getCommandName().equals("update")) {
                    event.getCommand().getArray("updates").forEach(u -> sent.add(u.asDocument().getDocument("q").toJson()));
                }
            }
        })) {
            MongoProfileStore counting = new MongoProfileStore(counted.database("test"), registry, 100);
            counting.apply(List.of(order("e1", "u1", 5, "France")));
            counting.apply(List.of(order("e2", "u1", 7, "Spain"), order("e3", "u2", 1, "Peru")));

            assertThat(sent.stream().filter(q -> q.contains("first_country")))
                    .as("u1's first_country once, u2's once").hasSize(2).anyMatch(q -> q.contains("u2"));
            assertThat(counting.read("user", List.of("u1", "u2"))).satisfies(p -> {
                assertThat(p.get("u1")).containsEntry("first_country", "France").containsEntry("order_count", 2L);
                assertThat(p.get("u2")).containsEntry("first_country", "Peru");
            });
        }
    }

    @Test
    void profilesOfManyIdsComeInOneReadAndUnknownIdsAreAbsent() {
        store.apply(List.of(order("e1", "u1", 1, "France"), order("e2", "u2", 2, "Italy")));

        Map<String, Map<String, Object>> read = store.read("user", List.of("u1", "u2", "nobody"));

        assertThat(read).containsOnlyKeys("u1", "u2");
        assertThat(read.get("u2")).containsEntry("country", "Italy").doesNotContainKey("_applied");
    }
}
