package dev.featurepipe.consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.EventCodec;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.StoreRejectedException;
import dev.featurepipe.core.StoreUnavailableException;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The consumer loop against a log in memory: batching, acknowledgement, the batches ahead, and the error policy. */
@Timeout(30)
class StreamConsumerTest {
    private final Registry registry = RegistryLoader.parse("""
            entities: {user: {key: user_id}}
            events: {order: {entity: user, fields: {amount: double, sku: string}}}
            """, "test");
    private final EventCodec codec = new EventCodec(new ObjectMapper(), registry);
    private final InMemoryEventSource source = new InMemoryEventSource();
    private final SimpleMeterRegistry metrics = new SimpleMeterRegistry();
    private final List<String> handled = new CopyOnWriteArrayList<>();

    private String append(String... eventIds) {
        return source.append(Arrays.stream(eventIds)
                .map(id -> codec.encode(new Event(id, "order", "u1", 1, Map.of("amount", 1.0, "sku", "a"))))
                .toArray(String[]::new));
    }

    private StreamConsumer consumer(int ahead, BatchHandler handler) {
        return consumer(ahead, 10, handler);
    }

    private StreamConsumer consumer(int ahead, int maxBatch, BatchHandler handler) {
        return new StreamConsumer(source, codec, new StreamConsumer.Options("g", "worker", maxBatch, Duration.ZERO,
                Duration.ofMinutes(10), 5, 3, ahead, Duration.ofMillis(20)), handler, metrics).start();
    }

    private double failures(String outcome) {
        var counter = metrics.find("featurepipe.consumer.failures").tag("outcome", outcome).counter();
        return counter == null ? 0 : counter.count();
    }

    private static List<String> ids(List<LoggedEvent> batch) {
        return batch.stream().map(e -> e.event().id()).toList();
    }

    @Test
    void everyEventIsHandledOnceInOrderAndAcknowledgedAfterwards() {
        List<String> entries = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            entries.add(append("e" + i + "a", "e" + i + "b"));
        }
        try (StreamConsumer worker = consumer(0, batch -> handled.addAll(ids(batch)))) {
            await().until(() -> source.pendingCount() == 0 && source.acknowledged().size() == 25);
        }
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            expected.addAll(List.of("e" + i + "a", "e" + i + "b"));
        }
        assertThat(handled).isEqualTo(expected);
        assertThat(source.acknowledged()).isEqualTo(entries);
        assertThat(metrics.find("featurepipe.consumer.events").counter().count()).isEqualTo(50.0);
    }

    @Test
    void anUnavailableStoreIsRetriedAndNothingIsSkippedOrDeadLettered() {
        append("e1");
        append("e2");
        AtomicInteger attempts = new AtomicInteger();
        try (StreamConsumer worker = consumer(0, batch -> {
            if (attempts.incrementAndGet() < 3) {
                throw new StoreUnavailableException("ClickHouse is down");
            }
            handled.addAll(ids(batch));
        })) {
            await().until(() -> handled.size() == 2 && source.pendingCount() == 0);
        }
        assertThat(handled).containsExactly("e1", "e2");
        assertThat(attempts.get()).isEqualTo(3);
        assertThat(failures("retriable")).isEqualTo(2.0);
        assertThat(source.deadLetters()).isEmpty();
    }

    @Test
    void aSourceThatFailsIsReadAgainFromItsPendingEntries() {
        append("e1");
        source.failReads(3);
        try (StreamConsumer worker = consumer(0, batch -> handled.addAll(ids(batch)))) {
            await().until(() -> handled.size() == 1 && source.pendingCount() == 0);
            append("e2");
            await().until(() -> handled.size() == 2 && source.pendingCount() == 0);
        }
        assertThat(handled).containsExactly("e1", "e2");
        assertThat(failures("retriable")).isEqualTo(3.0);
    }

    @Test
    void onlyThePoisonEventsOfABatchAreDeadLetteredWithTheirReason() {
        List<String> all = new ArrayList<>();
        for (int entry = 0; entry < 4; entry++) {
            String[] ids = new String[50];
            for (int i = 0; i < 50; i++) {
                ids[i] = "e" + (entry * 50 + i);
            }
            all.addAll(List.of(ids));
            append(ids);
        }
        Set<String> poison = Set.of("e37", "e151");
        List<List<String>> attempts = new CopyOnWriteArrayList<>();
        try (StreamConsumer worker = consumer(0, 200, batch -> {
            attempts.add(ids(batch));
            batch.stream().filter(e -> poison.contains(e.event().id())).findFirst().ifPresent(e -> {
                throw new StoreRejectedException("cannot apply " + e.event().id(), null);
            });
            handled.addAll(ids(batch));
        })) {
            await().until(() -> source.pendingCount() == 0 && source.acknowledged().size() == 4);
        }
        assertThat(attempts.get(0)).as("one batch of all 200").hasSize(200);
        assertThat(handled).containsExactlyInAnyOrderElementsOf(all.stream().filter(id -> !poison.contains(id)).toList());
        assertThat(source.deadLetters()).extracting(EventSource.DeadLetter::reason)
                .containsExactly("cannot apply e37", "cannot apply e151");
        assertThat(source.deadLetters()).extracting(EventSource.DeadLetter::position)
                .containsExactly(source.acknowledged().get(0) + "/37", source.acknowledged().get(3) + "/1");
        assertThat(source.deadLetters()).allSatisfy(d -> assertThat(d.group()).isEqualTo("g"));
        // split in halves, not tried one event at a time
        assertThat(attempts).hasSizeLessThan(40);
        assertThat(failures("poison")).isPositive();
    }

    @Test
    void anUnexpectedFailureStopsTheConsumerWithoutADeadLetterOrAnAcknowledgement() {
        append("good");
        try (StreamConsumer worker = consumer(0, batch -> handled.addAll(ids(batch)))) {
            await().until(() -> source.acknowledged().size() == 1);
        }
        append("bug");
        append("after");
        AtomicInteger calls = new AtomicInteger();
        try (StreamConsumer worker = consumer(0, batch -> {
            calls.incrementAndGet();
            throw new NullPointerException("a bug in the handler");
        })) {
            await().until(() -> worker.failure().isPresent());
            assertThat(worker.failure().get()).contains("a bug in the handler");
            int callsWhenStopped = calls.get();
            append("later");
            // the consumer's thread has ended: nothing more is read or handled
            await().during(Duration.ofMillis(200)).until(() -> calls.get() == callsWhenStopped);
        }
        assertThat(source.deadLetters()).isEmpty();
        assertThat(source.acknowledged()).hasSize(1);
        assertThat(source.pendingCount()).isEqualTo(2); // "bug" and "after" stay pending for a restart
        assertThat(failures("fatal")).isEqualTo(1.0);
        assertThat(metrics.find("featurepipe.consumer.fatal").counter().count()).isEqualTo(1.0);
    }

    @Test
    void anErrorInTheHandlerEndsTheConsumersThreadWithIt() throws Exception {
        append("e1");
        CompletableFuture<Throwable> uncaught = new CompletableFuture<>();
        Thread.UncaughtExceptionHandler before = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> uncaught.complete(e));
        try (StreamConsumer worker = consumer(1, batch -> {
            throw new OutOfMemoryError("no heap left");
        })) {
            assertThat(uncaught.get(10, TimeUnit.SECONDS)).isInstanceOf(OutOfMemoryError.class);
            assertThat(worker.failure()).hasValueSatisfying(why -> assertThat(why).contains("no heap left"));
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(before);
        }
        assertThat(source.deadLetters()).isEmpty();
        assertThat(source.acknowledged()).isEmpty();
    }

    @Test
    void aMalformedEntryIsDeadLetteredAloneAtItsPosition() {
        String entry = source.append(codec.encode(new Event("good-1", "order", "u1", 1, Map.of("amount", 1.0, "sku", "a"))),
                "not json", codec.encode(new Event("good-2", "order", "u1", 1, Map.of("amount", 1.0, "sku", "a"))));
        try (StreamConsumer worker = consumer(0, batch -> handled.addAll(ids(batch)))) {
            await().until(() -> source.pendingCount() == 0 && handled.size() == 2);
        }
        assertThat(handled).containsExactly("good-1", "good-2");
        assertThat(source.deadLetters()).singleElement().satisfies(d -> {
            assertThat(d.position()).isEqualTo(entry + "/1");
            assertThat(d.payload()).isEqualTo("not json");
        });
    }

    /**
     * A handler that leaves the rest of each batch to a thread of its own: the rest of the batch holding e0 waits
     * for {@code held}, and the one of the batch holding e15 fails the first time.
     */
    private final class FinishingLater implements BatchHandler, AutoCloseable {
        final CountDownLatch held = new CountDownLatch(1);
        final CountDownLatch awaitingHeld = new CountDownLatch(1);
        final List<List<String>> started = new CopyOnWriteArrayList<>();
        final AtomicInteger resumes = new AtomicInteger();
        private final AtomicBoolean failed = new AtomicBoolean();
        private final ExecutorService rest = Executors.newSingleThreadExecutor();

        @Override
        public void handle(List<LoggedEvent> batch) {
            start(batch).await();
        }

        @Override
        public Finish start(List<LoggedEvent> batch) {
            List<String> ids = ids(batch);
            started.add(ids);
            CompletableFuture<Void> done = CompletableFuture.runAsync(() -> {
                if (ids.contains("e0")) {
                    awaitUninterruptibly(held);
                }
                if (ids.contains("e15") && failed.compareAndSet(false, true)) {
                    throw new StoreUnavailableException("MongoDB is down");
                }
                handled.addAll(ids);
            }, rest);
            Finish finish = Finish.of(done);
            return !ids.contains("e0") ? finish : new Finish() {
                @Override
                public void await() {
                    awaitingHeld.countDown(); // the consumer now waits for this batch before it starts another
                    finish.await();
                }

                @Override
                public boolean isDone() {
                    return finish.isDone();
                }
            };
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
        try (StreamConsumer worker = consumer(2, handler); handler) {
            // the first batch is not finished: two more are started, and then the consumer waits for the first
            handler.awaitingHeld.await();
            assertThat(handler.started).hasSize(3);
            long startedEvents = handler.started.stream().mapToInt(List::size).sum();
            assertThat(source.pendingCount()).as("started entries stay unacknowledged").isEqualTo(startedEvents);
            assertThat(source.acknowledged()).isEmpty();

            handler.held.countDown();
            await().until(() -> source.pendingCount() == 0 && source.acknowledged().size() == 30
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
        assertThat(source.acknowledged()).isSortedAccordingTo(Comparator.comparing(id -> Integer.parseInt(id.split("-")[0])));
        assertThat(source.deadLetters()).isEmpty();
    }

    @Test
    void anEntryReReadMoreOftenThanTheLimitIsHandledNotDeadLettered() {
        append("re-read");
        source.read(1, Duration.ZERO);
        for (int i = 0; i < 10; i++) {
            source.readOwnPending(1); // restarts and retries, twice as many as the limit of 5
        }
        try (StreamConsumer worker = consumer(0, batch -> handled.addAll(ids(batch)))) {
            await().until(() -> source.pendingCount() == 0);
        }
        assertThat(handled).containsExactly("re-read");
        assertThat(source.deadLetters()).isEmpty();
    }

    @Test
    void anEntryTheConsumerStopsOnEveryTimeIsDeadLetteredAloneOnceItFailedAsOftenAsTheLimit() {
        append("healthy-1");
        String bug = append("bug");
        append("healthy-2");
        int runs = 0;
        while (source.pendingCount() > 0 || runs == 0) {
            runs++;
            try (StreamConsumer worker = consumer(1, batch -> {
                if (ids(batch).contains("bug")) {
                    throw new IllegalStateException("a bug this event triggers");
                }
                handled.addAll(ids(batch));
            })) {
                await().until(() -> worker.failure().isPresent() || source.pendingCount() == 0);
            }
            assertThat(runs).as("restarts").isLessThan(20);
        }
        assertThat(handled).containsExactlyInAnyOrder("healthy-1", "healthy-2");
        assertThat(source.deadLetters()).singleElement().satisfies(d -> {
            assertThat(d.position()).isEqualTo(bug);
            assertThat(d.reason()).startsWith("failed 5 times");
        });
        assertThat(runs).as("5 failed runs, then one that dead-letters it").isEqualTo(6);
        assertThat(source.failureCounts()).as("forgotten once acknowledged").isEmpty();
    }
}
