package dev.featurepipe.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.config.Config;
import dev.featurepipe.consumer.BatchHandler;
import dev.featurepipe.consumer.StreamConsumer;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.EventCodec;
import dev.featurepipe.core.EventLog;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.it.TestServices;
import io.lettuce.core.Consumer;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The consumer on a real Redis Stream: claiming, giving up on crash-looping entries, shared entries, the bounded
 * dead-letter stream. The loop's own rules are unit-tested in {@code consumer.StreamConsumerTest}.
 */
@ExtendWith(TestServices.class)
@Timeout(60)
class RedisStreamConsumerIT {
    private static final String GROUP = "g";

    private final Registry registry = RegistryLoader.load(Path.of("src/test/resources/registry/it.yaml"));
    private final EventCodec codec = new EventCodec(new ObjectMapper(), registry);
    private final List<String> handled = new CopyOnWriteArrayList<>();
    private final SimpleMeterRegistry metrics = new SimpleMeterRegistry();
    private Config config;
    private RedisConnections redis;
    private RedisClusterCommands<String, String> sync;
    private String stream;

    @BeforeEach
    void connect() {
        config = TestServices.config("src/test/resources/registry/it.yaml", Map.of());
        stream = config.get(Config.STREAM);
        redis = new RedisConnections(config.get(Config.REDIS_URL));
        sync = redis.shared().sync();
        RedisEventSource.ensureGroup(sync, stream, GROUP);
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

    private StreamConsumer consumer(String name, BatchHandler handler) {
        return consumer(name, 1000, handler);
    }

    private StreamConsumer consumer(String name, int maxDeadLetters, BatchHandler handler) {
        return new StreamConsumer(new RedisEventSource(redis, stream, GROUP, name, maxDeadLetters), codec,
                new StreamConsumer.Options(GROUP, name, 10, Duration.ZERO, Duration.ofMillis(200), 5, 3, 0,
                        Duration.ofMillis(100)), handler, metrics).start();
    }

    private List<StreamMessage<String, String>> deadLetters() {
        return sync.xrange(stream + ":dead", Range.create("-", "+"));
    }

    @Test
    void entriesOfAConsumerThatDiedAreClaimedAndHandledHoweverOftenTheyWereDelivered() {
        append("re-delivered");
        append("left-behind");
        Consumer<String> ghost = Consumer.from(GROUP, "ghost");
        sync.xreadgroup(ghost, XReadArgs.Builder.count(2), XReadArgs.StreamOffset.lastConsumed(stream));
        for (int i = 0; i < 10; i++) { // the ghost re-reads (and so re-delivers) the first entry, twice the limit of 5
            sync.xreadgroup(ghost, XReadArgs.Builder.count(1), XReadArgs.StreamOffset.from(stream, "0"));
        }

        try (StreamConsumer worker = consumer("worker", batch -> batch.forEach(e -> handled.add(e.event().id())))) {
            await().until(() -> sync.xpending(stream, GROUP).getCount() == 0);
        }

        assertThat(handled).containsExactlyInAnyOrder("re-delivered", "left-behind");
        assertThat(deadLetters()).isEmpty();
        assertThat(metrics.find("featurepipe.consumer.claimed").counter().count()).as("both of the ghost's entries").isEqualTo(2.0);
    }

    @Test
    void anEntryConsumersStopOnIsDeadLetteredAloneAfterFailingAsOftenAsTheLimitAcrossRestarts() {
        append("healthy");
        String bug = append("bug");
        int runs = 0;
        do {
            runs++;
            try (StreamConsumer worker = consumer("worker", batch -> {
                if (batch.stream().anyMatch(e -> e.event().id().equals("bug"))) {
                    throw new IllegalStateException("a bug this event triggers");
                }
                batch.forEach(e -> handled.add(e.event().id()));
            })) {
                await().until(() -> worker.failure().isPresent() || sync.xpending(stream, GROUP).getCount() == 0);
            }
            assertThat(runs).as("restarts").isLessThan(20);
        } while (sync.xpending(stream, GROUP).getCount() > 0);

        assertThat(handled).containsExactly("healthy");
        assertThat(deadLetters()).singleElement().satisfies(m -> {
            assertThat(m.getBody().get("id")).isEqualTo(bug);
            assertThat(m.getBody().get("reason")).startsWith("failed 5 times");
        });
        assertThat(runs).as("5 failed runs, then one that dead-letters it").isEqualTo(6);
        assertThat(sync.exists(StreamKeys.failures(stream, GROUP))).as("counts forgotten once acknowledged").isZero();
    }

    @Test
    void theEventsOfARequestShareEntriesAndAreReadBackInOrderAtTheirPositions() {
        RedisEventLog log = new RedisEventLog(redis, codec, Shards.single(stream), Duration.ofMinutes(1), 1000, 3);
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
        try (StreamConsumer worker = consumer("worker", read::addAll)) {
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
        try (StreamConsumer worker = consumer("worker", batch -> batch.forEach(e -> handled.add(e.event().id())))) {
            await().until(() -> sync.xpending(stream, GROUP).getCount() == 0 && handled.size() == 2);
        }

        assertThat(handled).containsExactly("good-1", "good-2");
        assertThat(deadLetters()).singleElement().satisfies(m -> {
            assertThat(m.getBody()).containsEntry("id", entry + "/1").containsEntry("e", "not json");
            assertThat(m.getBody().get("reason")).contains("not JSON");
        });
    }

    @Test
    void theDeadLetterStreamKeepsItsNewestEntriesAndCountsThoseItDrops() {
        for (int i = 0; i < 5; i++) {
            sync.xadd(stream, Map.of("e", "not json " + i));
        }
        try (StreamConsumer worker = consumer("worker", 3, batch -> batch.forEach(e -> handled.add(e.event().id())))) {
            await().until(() -> sync.xpending(stream, GROUP).getCount() == 0 && deadLetters().size() == 3
                    && metrics.find("featurepipe.consumer.dead.letters").counter().count() == 5);
        }
        assertThat(deadLetters()).extracting(m -> m.getBody().get("e")).containsExactly("not json 2", "not json 3", "not json 4");
        assertThat(metrics.find("featurepipe.consumer.dead.letters.dropped").counter().count()).isEqualTo(2.0);
    }
}
