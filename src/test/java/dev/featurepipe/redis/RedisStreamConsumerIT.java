package dev.featurepipe.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.EventCodec;
import dev.featurepipe.core.EventLog;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.StoreUnavailableException;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.it.TestServices;
import io.lettuce.core.Consumer;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.api.sync.RedisCommands;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** The consumer's failure paths on a real Redis: claiming, giving up on crash-looping entries, retrying outages. */
@ExtendWith(TestServices.class)
@Timeout(60)
class RedisStreamConsumerIT {
    private static final String GROUP = "g";

    private final Registry registry = RegistryLoader.load(Path.of("src/test/resources/registry/it.yaml"));
    private final EventCodec codec = new EventCodec(new ObjectMapper(), registry);
    private final List<String> handled = new CopyOnWriteArrayList<>();
    private Config config;
    private RedisConnections redis;
    private RedisCommands<String, String> sync;
    private String stream;

    @BeforeEach
    void connect() {
        config = TestServices.config("src/test/resources/registry/it.yaml", Map.of());
        stream = config.get(Config.STREAM);
        redis = new RedisConnections(config.get(Config.REDIS_URL));
        sync = redis.shared().sync();
        RedisStreamConsumer.ensureGroup(sync, stream, GROUP);
    }

    @AfterEach
    void close() {
        redis.close();
    }

    private static Event order(String eventId) {
        return new Event(eventId, "order", "u1", 1, Map.of("amount", 1.0, "sku", "a"));
    }

    private String append(String eventId) {
        return sync.xadd(stream, Map.of("e", codec.encode(order(eventId))));
    }

    private RedisStreamConsumer consumer(String name, RedisStreamConsumer.BatchHandler handler) {
        return consumer(name, Duration.ofMillis(200), 0, handler);
    }

    private RedisStreamConsumer consumer(String name, Duration claimIdle, int ahead, RedisStreamConsumer.BatchHandler handler) {
        return new RedisStreamConsumer(redis, codec, new RedisStreamConsumer.Options(stream, GROUP, name, 10, Duration.ZERO,
                claimIdle, 5, 3, ahead), handler, new SimpleMeterRegistry()).start();
    }

    private List<StreamMessage<String, String>> deadLetters() {
        return sync.xrange(stream + ":dead", Range.create("-", "+"));
    }

    @Test
    void entriesOfAConsumerThatDiedAreClaimedAndOnesDeliveredTooOftenAreDeadLettered() {
        String poison = append("crash-looping");
        String orphan = append("left-behind");
        Consumer<String> ghost = Consumer.from(GROUP, "ghost");
        sync.xreadgroup(ghost, XReadArgs.Builder.count(2), XReadArgs.StreamOffset.lastConsumed(stream));
        for (int i = 0; i < 5; i++) { // the ghost re-reads (and so re-delivers) only the first entry each time
            sync.xreadgroup(ghost, XReadArgs.Builder.count(1), XReadArgs.StreamOffset.from(stream, "0"));
        }

        try (RedisStreamConsumer worker = consumer("worker", batch -> batch.forEach(e -> handled.add(e.event().id())))) {
            await().until(() -> sync.xpending(stream, GROUP).getCount() == 0);
        }

        assertThat(handled).containsExactly("left-behind");
        assertThat(deadLetters()).singleElement().satisfies(m -> {
            assertThat(m.getBody().get("id")).isEqualTo(poison);
            assertThat(m.getBody().get("reason")).startsWith("delivered 7 times without being acknowledged");
        });
        assertThat(orphan).isNotEqualTo(poison);
    }

    @Test
    void anUnavailableStoreIsWaitedForAndNothingIsSkipped() {
        append("e1");
        append("e2");
        AtomicInteger attempts = new AtomicInteger();
        try (RedisStreamConsumer worker = consumer("worker", batch -> {
            if (attempts.incrementAndGet() < 3) {
                throw new StoreUnavailableException("ClickHouse is down", null);
            }
            batch.stream().map(LoggedEvent::event).map(Event::id).forEach(handled::add);
        })) {
            await().until(() -> handled.size() == 2);
        }

        assertThat(handled).containsExactly("e1", "e2");
        assertThat(attempts.get()).isEqualTo(3);
        assertThat(deadLetters()).isEmpty();
    }

    /**
     * A handler that leaves the rest of each batch to a thread of its own: the rest of the batch holding e0 waits
     * for {@code held}, and the one of the batch holding e15 fails the first time.
     */
    private final class FinishingLater implements RedisStreamConsumer.BatchHandler, AutoCloseable {
        final CountDownLatch held = new CountDownLatch(1);
        final List<List<String>> started = new CopyOnWriteArrayList<>();
        final AtomicInteger resumes = new AtomicInteger();
        private final AtomicBoolean failed = new AtomicBoolean();
        private final ExecutorService rest = Executors.newSingleThreadExecutor();

        @Override
        public void handle(List<LoggedEvent> batch) {
            start(batch).await();
        }

        @Override
        public RedisStreamConsumer.Finish start(List<LoggedEvent> batch) {
            List<String> ids = batch.stream().map(e -> e.event().id()).toList();
            started.add(ids);
            CompletableFuture<Void> done = CompletableFuture.runAsync(() -> {
                if (ids.contains("e0")) {
                    awaitUninterruptibly(held);
                }
                if (ids.contains("e15") && failed.compareAndSet(false, true)) {
                    throw new StoreUnavailableException("MongoDB is down", null);
                }
                handled.addAll(ids);
            }, rest);
            return RedisStreamConsumer.Finish.of(done);
        }

        @Override
        public void resume() {
            resumes.incrementAndGet();
        }

        @Override
        public void close() {
            held.countDown();
            rest.shutdown();
        }

        private static void awaitUninterruptibly(CountDownLatch latch) {
            try {
                latch.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Test
    void batchesStartedAheadAreAcknowledgedOnceFinishedAndAFailedOneIsHandledAgainWithTheOnesAfterIt() throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            ids.add("e" + i);
            append("e" + i);
        }
        FinishingLater handler = new FinishingLater();
        // no claiming here: only the consumer's own handling again may make up for the failure
        try (RedisStreamConsumer worker = consumer("worker", Duration.ofMinutes(10), 2, handler); handler) {
            // the first batch is not finished: two more are started, and then the consumer waits for it
            await().until(() -> handler.started.size() == 3);
            Thread.sleep(300);
            assertThat(handler.started).hasSize(3);
            long startedEvents = handler.started.stream().mapToInt(List::size).sum();
            assertThat(sync.xpending(stream, GROUP).getCount()).as("started entries stay unacknowledged").isEqualTo(startedEvents);

            handler.held.countDown();
            await().until(() -> sync.xpending(stream, GROUP).getCount() == 0 && sync.xlen(stream) == 30
                    && Set.copyOf(handled).containsAll(ids));
        }

        assertThat(handler.resumes.get()).isPositive();
        assertThat(handler.started.stream().filter(b -> b.contains("e15"))).as("e15's batch, started again").hasSize(2);
        // each event's last handling is in stream order: the failed batch and those after it were handled again
        Map<String, Integer> last = new LinkedHashMap<>();
        for (int i = 0; i < handled.size(); i++) {
            last.put(handled.get(i), i);
        }
        assertThat(ids.stream().sorted(Comparator.comparing(last::get)).toList()).isEqualTo(ids);
        assertThat(deadLetters()).isEmpty();
    }

    @Test
    void anEventTheHandlerRejectsGoesToTheDeadLettersAndTheOthersAreHandled() {
        append("good-1");
        append("bad");
        append("good-2");
        try (RedisStreamConsumer worker = consumer("worker", batch -> {
            if (batch.stream().anyMatch(e -> e.event().id().equals("bad"))) {
                throw new IllegalArgumentException("cannot apply 'bad'");
            }
            batch.forEach(e -> handled.add(e.event().id()));
        })) {
            await().until(() -> sync.xpending(stream, GROUP).getCount() == 0 && handled.size() == 2);
        }

        assertThat(handled).containsExactly("good-1", "good-2");
        assertThat(deadLetters()).singleElement().satisfies(m ->
                assertThat(m.getBody().get("reason")).contains("cannot apply 'bad'"));
    }

    @Test
    void theEventsOfARequestShareEntriesAndAreReadBackInOrderAtTheirPositions() {
        RedisEventLog log = new RedisEventLog(redis, codec, stream, Duration.ofMinutes(1), 1000, 3);
        List<String> ids = List.of("a", "b", "c", "b", "d", "e", "f", "g");
        List<EventLog.Appended> first = log.append(ids.stream().map(RedisStreamConsumerIT::order).toList());
        List<EventLog.Appended> again = log.append(List.of(order("e"), order("h")));

        List<StreamMessage<String, String>> entries = sync.xrange(stream, Range.create("-", "+"));
        assertThat(entries).extracting(m -> m.getBody().get("e").split("\n").length).containsExactly(3, 3, 1, 1);
        assertThat(first).extracting(EventLog.Appended::position).containsExactly(
                entries.get(0).getId() + "/0", entries.get(0).getId() + "/1", entries.get(0).getId() + "/2",
                entries.get(0).getId() + "/1", entries.get(1).getId() + "/0", entries.get(1).getId() + "/1",
                entries.get(1).getId() + "/2", entries.get(2).getId() + "/0");
        assertThat(first).extracting(EventLog.Appended::duplicate).containsExactly(false, false, false, true, false, false, false, false);
        assertThat(again).containsExactly(new EventLog.Appended(first.get(5).position(), true),
                new EventLog.Appended(entries.get(3).getId() + "/0", false));

        List<LoggedEvent> read = new CopyOnWriteArrayList<>();
        try (RedisStreamConsumer worker = consumer("worker", read::addAll)) {
            await().until(() -> read.size() == 8);
        }
        assertThat(read).extracting(e -> e.event().id()).containsExactly("a", "b", "c", "d", "e", "f", "g", "h");
        assertThat(read.get(4).position()).isEqualTo(first.get(5).position());
        assertThat(sync.xpending(stream, GROUP).getCount()).isZero();
    }

    @Test
    void aBadEventInASharedEntryIsDeadLetteredAloneAtItsPosition() {
        String entry = sync.xadd(stream, Map.of("e", String.join("\n", codec.encode(order("good-1")), "not json",
                codec.encode(order("good-2")))));
        try (RedisStreamConsumer worker = consumer("worker", batch -> batch.forEach(e -> handled.add(e.event().id())))) {
            await().until(() -> sync.xpending(stream, GROUP).getCount() == 0 && handled.size() == 2);
        }

        assertThat(handled).containsExactly("good-1", "good-2");
        assertThat(deadLetters()).singleElement().satisfies(m -> {
            assertThat(m.getBody()).containsEntry("id", entry + "/1").containsEntry("e", "not json");
            assertThat(m.getBody().get("reason")).contains("not JSON");
        });
    }
}
