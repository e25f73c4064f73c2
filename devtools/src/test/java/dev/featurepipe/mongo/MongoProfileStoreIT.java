package dev.featurepipe.mongo;

import static org.assertj.core.api.Assertions.assertThat;

import com.mongodb.event.CommandListener;
import com.mongodb.event.CommandStartedEvent;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.SequencedEvent;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.it.InProcessMongo;
import java.math.BigDecimal;
import java.nio.file.Path;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
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

    /** Numbers events per entity as the online store does: in the order first seen, an event again keeps its number. */
    private static final class Numbering {
        private final Map<String, Long> last = new HashMap<>();
        private final Map<String, SequencedEvent> numbered = new HashMap<>();

        List<SequencedEvent> of(Event... events) {
            return Arrays.stream(events).map(e -> numbered.computeIfAbsent(e.key(), k -> {
                boolean starts = !last.containsKey(e.entityId());
                return new SequencedEvent(e, last.merge(e.entityId(), 1_000L, (a, b) -> a + 1), starts);
            })).toList();
        }
    }

    private final Numbering numbering = new Numbering();

    private List<SequencedEvent> seq(Event... events) {
        return numbering.of(events);
    }

    private Map<String, Object> profile(MongoProfileStore from, String id) {
        return from.read("user", List.of(id)).get(id);
    }

    private Document stored(String id) {
        return mongo.database("test").getCollection("user").find(new Document("_id", id)).first();
    }

    private static Event order(String id, String user, double amount, String country) {
        return new Event(id, "order", user, 1_000, country == null ? Map.of("amount", amount, "sku", "a")
                : Map.of("amount", amount, "sku", "a", "country", country));
    }

    @Test
    void setKeepsTheLatestValueAndIncAddsEveryEventOnce() {
        store.apply(seq(order("e1", "u1", 2.5, "France"), order("e2", "u1", 4.0, null), order("e3", "u1", 1.0, "Spain")));

        assertThat(store.read("user", List.of("u1")).get("u1"))
                .containsEntry("country", "Spain").containsEntry("order_count", 3L).containsEntry("total_spend", 7.5);
    }

    @Test
    void setOnceKeepsTheFirstValueAndMaxMinKeepTheExtremesOfEventsPassingTheFilter() {
        store.apply(seq(order("e1", "u1", 5, null), order("e2", "u1", 12, "France"), order("e3", "u1", 30, "Spain")));
        store.apply(seq(order("e4", "u1", 11, "Italy"), order("e5", "u1", 2, "Peru")));

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
        decimals.apply(seq(new Event("e1", "order", "u1", 1, Map.of("price", new BigDecimal("1.10"))),
                new Event("e2", "order", "u1", 2, Map.of("price", new BigDecimal("1700.00")))));
        decimals.apply(seq(new Event("e3", "order", "u1", 3, Map.of("price", new BigDecimal("0.05")))));
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
        store.apply(seq(e1, e1));
        store.apply(seq(e1));

        assertThat(store.read("user", List.of("u1")).get("u1")).containsEntry("order_count", 1L).containsEntry("total_spend", 2.5);
    }

    @Test
    void aBatchCutDifferentlyOnRedeliveryAppliesOnlyTheNewEvents() {
        Event e1 = order("e1", "u1", 1, "France");
        Event e2 = order("e2", "u1", 10, "Italy");
        Event e3 = order("e3", "u1", 100, "Spain");
        store.apply(seq(e1, e2));
        store.apply(seq(e2, e3)); // e2 redelivered together with a new event

        assertThat(store.read("user", List.of("u1")).get("u1"))
                .containsEntry("order_count", 3L).containsEntry("total_spend", 111.0).containsEntry("country", "Spain");
    }

    @Test
    void anEventDeliveredAgainAfterManyLaterUpdatesIsStillAppliedOnce() {
        Event first = order("first", "u1", 1, null);
        store.apply(seq(first));
        for (int i = 0; i < 50; i++) {
            store.apply(seq(order("later" + i, "u1", 10, null)));
        }
        store.apply(seq(first, order("new", "u1", 100, null)));

        assertThat(profile(store, "u1")).containsEntry("order_count", 52L).containsEntry("total_spend", 601.0);
        assertThat(stored("u1").getList(MongoProfileStore.APPLIED_ABOVE, Long.class)).isEmpty();
    }

    @Test
    void twoConsumersApplyingOneEntitysEventsOutOfOrderCountEachOnce() {
        MongoProfileStore other = new MongoProfileStore(mongo.database("test"), registry, 100);
        List<SequencedEvent> events = seq(order("a", "u1", 1, null), order("b", "u1", 10, null), order("c", "u1", 100, null));
        other.apply(events.subList(1, 3)); // the other consumer applies b and c while this one still holds a
        assertThat(profile(store, "u1")).containsEntry("order_count", 2L);
        store.apply(events.subList(0, 2)); // a, and b again, which this store has not seen applied
        other.apply(events); // all three again

        assertThat(profile(store, "u1")).containsEntry("order_count", 3L).containsEntry("total_spend", 111.0);
        Document doc = stored("u1");
        assertThat(doc.get(MongoProfileStore.APPLIED_UP_TO)).as("the numbers folded into one").isEqualTo(events.get(2).sequence());
        assertThat(doc.getList(MongoProfileStore.APPLIED_ABOVE, Long.class)).isEmpty();
    }

    @Test
    void consumersRacingOnTheSameEventsApplyEachOnce() throws Exception {
        List<SequencedEvent> events = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            events.addAll(seq(order("r" + i, "u" + i % 5, 1, null)));
        }
        List<MongoProfileStore> stores = IntStream.range(0, 4)
                .mapToObj(i -> new MongoProfileStore(mongo.database("test"), registry, 1_000)).toList();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> runs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                MongoProfileStore mine = stores.get(t);
                Random random = new Random(t);
                runs.add(pool.submit(() -> {
                    for (int from = 0; from < events.size(); ) { // each delivers everything, cut its own way
                        int to = Math.min(events.size(), from + 1 + random.nextInt(30));
                        mine.apply(events.subList(from, to));
                        from = to;
                    }
                }));
            }
            for (Future<?> run : runs) {
                run.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        for (int u = 0; u < 5; u++) {
            assertThat(profile(store, "u" + u)).as("u" + u).containsEntry("order_count", 40L);
        }
    }

    @Test
    void aNumberMissingWhileTooManyLaterOnesAreAppliedIsGivenUpAndCounted() {
        MongoProfileStore patient = new MongoProfileStore(mongo.database("test"), registry, 3);
        SimpleMeterRegistry metrics = new SimpleMeterRegistry();
        patient.metrics().bindTo(metrics);
        List<SequencedEvent> events = seq(IntStream.range(0, 6).mapToObj(i -> order("m" + i, "u1", 1, null)).toArray(Event[]::new));
        patient.apply(events.subList(1, 4)); // m0 is held elsewhere: three wait above it
        assertThat(metrics.get("featurepipe.profile.sequence.given.up").functionCounter().count()).isZero();
        patient.apply(events.subList(4, 5));
        assertThat(metrics.get("featurepipe.profile.sequence.given.up").functionCounter().count()).isEqualTo(1);
        assertThat(stored("u1").getList(MongoProfileStore.APPLIED_ABOVE, Long.class)).isEmpty();
        patient.apply(events); // m0 at last: given up, so not counted; m5 is

        assertThat(profile(patient, "u1")).containsEntry("order_count", 5L);
    }

    @Test
    void aNumberingThatStartsAgainSettlesTheNumbersBelowIt() {
        List<SequencedEvent> old = seq(order("o1", "u1", 1, null), order("o2", "u1", 1, null), order("o3", "u1", 1, null));
        store.apply(List.of(old.get(0), old.get(2))); // o2's number never comes: its entity's numbering expired
        Event restarted = order("n1", "u1", 1, null);
        store.apply(List.of(new SequencedEvent(restarted, System.currentTimeMillis() * 1000 + 1, true)));

        assertThat(profile(store, "u1")).containsEntry("order_count", 3L);
        assertThat(stored("u1").getList(MongoProfileStore.APPLIED_ABOVE, Long.class)).isEmpty();
    }

    @Test
    void aProfileFromBeforeNumbersWereKeptHoldsWhatItHadAndCountsNewEvents() {
        mongo.database("test").getCollection("user").insertOne(new Document("_id", "u1").append("order_count", 3L)
                .append("_applied", List.of(new Document("ids", List.of("x")))));
        store.apply(List.of(new SequencedEvent(order("e1", "u1", 1, null), 57, false)));
        store.apply(List.of(new SequencedEvent(order("e2", "u1", 1, null), 58, false)));

        assertThat(profile(store, "u1")).containsEntry("order_count", 5L).doesNotContainKey("_applied");
        assertThat(stored("u1").getList(MongoProfileStore.APPLIED_ABOVE, Long.class)).isEmpty();
    }

    private static Event placed(String id, String user, long ts, String country) {
        return new Event(id, "order", user, ts, Map.of("amount", 1.0, "sku", "a", "country", country));
    }

    @Test
    void setKeepsTheLatestByEventTimeAndSetOnceTheEarliestWhateverOrderTheyArriveIn() {
        List<Event> events = List.of(placed("m", "u", 2_000, "Middle"), placed("late", "u", 3_000, "Latest"),
                placed("b", "u", 1_000, "Tie b"), placed("a", "u", 1_000, "Tie a"), placed("z", "u", 3_000, "Latest z"));
        List<List<Event>> arrivals = List.of(events, List.of(events.get(4), events.get(3), events.get(2),
                events.get(1), events.get(0)), List.of(events.get(2), events.get(4),
                events.get(0), events.get(3), events.get(1)));
        for (int i = 0; i < arrivals.size(); i++) {
            String user = "u" + i;
            Numbering mine = new Numbering();
            for (Event e : arrivals.get(i)) { // one event per update, in this arrival's order
                store.apply(mine.of(new Event(e.id(), e.type(), user, e.ts(), e.fields())));
            }
            assertThat(profile(store, user)).as("arrival " + i).containsEntry("country", "Latest z")
                    .containsEntry("first_country", "Tie a").containsEntry("order_count", 5L);
        }
    }

    @Test
    void aSetOnceValueKeptBeforeStampsWereStaysAndASetValueGivesWayToAnyEvent() {
        mongo.database("test").getCollection("user").insertOne(new Document("_id", "u1")
                .append("first_country", "France").append("country", "France"));
        store.apply(List.of(new SequencedEvent(placed("e1", "u1", 1, "Peru"), 7, false)));

        assertThat(profile(store, "u1")).containsEntry("first_country", "France").containsEntry("country", "Peru");
    }

    @Test
    void aDocumentTheStoreKnowsCostsOneWriteAndNoRead() {
        List<String> commands = new CopyOnWriteArrayList<>();
        try (InProcessMongo counted = new InProcessMongo(new CommandListener() {
            @Override
            public void commandStarted(CommandStartedEvent event) {
                commands.add(event.getCommandName());
            }
        })) {
            MongoProfileStore counting = new MongoProfileStore(counted.database("test"), registry, 100);
            counting.apply(seq(order("e1", "u1", 5, "France"), order("e2", "u2", 7, "Spain")));
            assertThat(commands).as("unknown documents: read first").containsExactly("find", "update");
            commands.clear();

            counting.apply(seq(order("e3", "u1", 1, "Peru"), order("e4", "u2", 2, "Chile")));

            assertThat(commands).containsExactly("update");
            assertThat(counting.read("user", List.of("u1")).get("u1")).containsEntry("order_count", 2L)
                    .containsEntry("first_country", "France");
        }
    }

    @Test
    void profilesOfManyIdsComeInOneReadAndUnknownIdsAreAbsent() {
        store.apply(seq(order("e1", "u1", 1, "France"), order("e2", "u2", 2, "Italy")));

        Map<String, Map<String, Object>> read = store.read("user", List.of("u1", "u2", "nobody"));

        assertThat(read).containsOnlyKeys("u1", "u2");
        assertThat(read.get("u2")).containsEntry("country", "Italy").doesNotContainKey("_applied").doesNotContainKey(MongoProfileStore.VERSION)
                .doesNotContainKey(MongoProfileStore.APPLIED_UP_TO);
    }
}
