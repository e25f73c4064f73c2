package dev.featurepipe.online;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.featurepipe.config.Config;
import dev.featurepipe.consumer.Finish;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.NumberRule;
import dev.featurepipe.core.ProfileStore;
import dev.featurepipe.core.SequencedEvent;
import dev.featurepipe.core.StoreUnavailableException;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.it.InProcessMongo;
import dev.featurepipe.it.TestServices;
import dev.featurepipe.mongo.MongoProfileStore;
import dev.featurepipe.redis.RedisConnections;
import dev.featurepipe.redis.RedisOnlineStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.bson.Document;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The online consumer's profile updates, started ahead on a real Redis and the embedded MongoDB-protocol server:
 * the batches waiting while one batch's updates run are written together, and when those fail, the later batches'
 * do not overtake them.
 */
@ExtendWith(TestServices.class)
@Timeout(60)
class OnlineConsumerIT {
    private final Registry registry = RegistryLoader.load(Path.of("src/test/resources/registry/it.yaml"));
    private final NumberRule numberRule = new NumberRule(registry, 1e19);
    private final String user = "ahead-" + UUID.randomUUID();
    private RedisConnections redis;
    private InProcessMongo mongo;
    private MongoProfileStore profiles;

    @BeforeEach
    void start() {
        redis = new RedisConnections(TestServices.config("src/test/resources/registry/it.yaml", Map.of()).get(Config.REDIS_URL));
        mongo = new InProcessMongo();
        profiles = new MongoProfileStore(mongo.database("test"), registry, 100);
    }

    @AfterEach
    void stop() {
        mongo.close();
        redis.close();
    }

    /**
     * The real profile store, except that its first update says so ({@code holding}), waits for {@code release} and
     * then, if {@code failFirst}, fails. It records the event ids of every call.
     */
    private final class HoldingFirst implements ProfileStore {
        final CountDownLatch holding = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final List<List<String>> calls = new CopyOnWriteArrayList<>();
        private final boolean failFirst;
        private final AtomicBoolean held = new AtomicBoolean();

        HoldingFirst(boolean failFirst) {
            this.failFirst = failFirst;
        }

        @Override
        public void apply(List<SequencedEvent> events) {
            calls.add(events.stream().map(e -> e.event().id()).toList());
            if (held.compareAndSet(false, true)) {
                holding.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                if (failFirst) {
                    throw new StoreUnavailableException("MongoDB is down", null);
                }
            }
            profiles.apply(events);
        }

        @Override
        public Map<String, Map<String, Object>> read(String entity, List<String> ids) {
            return profiles.read(entity, ids);
        }
    }

    private List<LoggedEvent> batch(String id, String country) {
        return List.of(new LoggedEvent("1-0/0", new Event(user + "-" + id, "order", user, System.currentTimeMillis(),
                Map.of("amount", 1.0, "sku", "a", "country", country))));
    }

    private Map<String, Object> profile() {
        return profiles.read("user", List.of(user)).getOrDefault(user, Map.of());
    }

    @Test
    void theBatchesAfterOneWhoseProfileUpdatesFailedSkipTheirsUntilHandledAgainInOrder() {
        HoldingFirst failing = new HoldingFirst(true);
        RedisOnlineStore online = new RedisOnlineStore(redis, registry, TestServices.shards("it-ahead-" + UUID.randomUUID()), Clock.systemUTC(), 100, 12);
        List<LoggedEvent> first = batch("1", "first");
        List<LoggedEvent> second = batch("2", "second");
        List<LoggedEvent> third = batch("3", "third");
        try (OnlineConsumer consumer = new OnlineConsumer(online, failing, numberRule, new SimpleMeterRegistry(), 100)) {
            Finish one = consumer.start(first);
            Finish two = consumer.start(second);
            Finish three = consumer.start(third);
            assertThat(two.isDone()).as("the second batch's updates wait for the first's").isFalse();
            failing.release.countDown();

            assertThatThrownBy(one::await).isInstanceOf(StoreUnavailableException.class);
            assertThatThrownBy(two::await).isInstanceOf(StoreUnavailableException.class);
            assertThatThrownBy(three::await).isInstanceOf(StoreUnavailableException.class);
            assertThat(profile()).as("no later batch overtook the failed one").isEmpty();

            consumer.resume();
            consumer.handle(first);
            consumer.handle(second);
            consumer.handle(third);
        }
        assertThat(profile()).containsEntry("country", "third").containsEntry("first_country", "first")
                .containsEntry("order_count", 3L);
    }

    @Test
    void theBatchesWaitingWhileAProfileWriteRunsAreWrittenTogetherInStreamOrderUpToTheWriteSize() throws InterruptedException {
        HoldingFirst slow = new HoldingFirst(false);
        RedisOnlineStore online = new RedisOnlineStore(redis, registry, TestServices.shards("it-ahead-" + UUID.randomUUID()), Clock.systemUTC(), 100, 12);
        List<Finish> started = new ArrayList<>();
        try (OnlineConsumer consumer = new OnlineConsumer(online, slow, numberRule, new SimpleMeterRegistry(), 2)) {
            started.add(consumer.start(batch("1", "first")));
            slow.holding.await();
            for (String n : List.of("2", "3", "4")) {
                started.add(consumer.start(batch(n, "batch " + n)));
            }
            slow.release.countDown();
            started.forEach(Finish::await);
        }
        assertThat(slow.calls).containsExactly(List.of(user + "-1"), List.of(user + "-2", user + "-3"), List.of(user + "-4"));
        assertThat(profile()).containsEntry("country", "batch 4").containsEntry("order_count", 4L);
    }

    @Test
    void anEntitysEventsWithoutProfileRulesLeaveNoGapInItsProfilesNumbers() {
        Registry clicks = RegistryLoader.parse("""
                entities: {user: {key: user_id}}
                events:
                  click: {entity: user, fields: {page: string}}
                  order: {entity: user, fields: {amount: double}}
                features:
                  - {name: clicks, event: click, aggregation: count, windows: [1h]}
                  - {name: orders, event: order, aggregation: count, windows: [1h]}
                profile:
                  - {name: order_count, event: order, rule: inc, value: 1}
                """, "test");
        MongoProfileStore store = new MongoProfileStore(mongo.database("clicks"), clicks, 100);
        RedisOnlineStore online = new RedisOnlineStore(redis, clicks, TestServices.shards("it-clicks-" + UUID.randomUUID()), Clock.systemUTC(), 100, 12);
        long now = System.currentTimeMillis();
        try (OnlineConsumer consumer = new OnlineConsumer(online, store, new NumberRule(clicks, 1e19), new SimpleMeterRegistry(), 100)) {
            consumer.handle(List.of(new LoggedEvent("1-0/0", new Event("c1", "click", user, now, Map.of("page", "home")))));
            consumer.handle(List.of(new LoggedEvent("2-0/0", new Event("o1", "order", user, now, Map.of("amount", 1.0))),
                    new LoggedEvent("2-0/1", new Event("c2", "click", user, now, Map.of("page", "cart")))));
            consumer.handle(List.of(new LoggedEvent("3-0/0", new Event("o2", "order", user, now, Map.of("amount", 2.0)))));
        }
        assertThat(store.read("user", List.of(user)).get(user)).containsEntry("order_count", 2L);
        assertThat(mongo.database("clicks").getCollection("user").find(new Document("_id", user)).first()
                .getList("_above", Long.class)).as("no number waits for a click's").isEmpty();
    }
}
