package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.config.Config;
import dev.featurepipe.config.Setting;
import dev.featurepipe.core.EventCodec;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.it.PropertyModel.Tx;
import dev.featurepipe.online.OnlineConsumer;
import dev.featurepipe.redis.RedisConnections;
import dev.featurepipe.redis.RedisEventLog;
import dev.featurepipe.redis.RedisEventSource;
import dev.featurepipe.redis.Shards;
import dev.featurepipe.redis.StreamKeys;
import dev.featurepipe.redis.RedisOnlineStore;
import dev.featurepipe.redis.StreamGroups;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Kills the online consumer (a separate {@code ./fp run --roles online} process) with SIGKILL in the middle of
 * 100,000 events, some of them in the stream twice; it is restarted, or another process takes its shards over
 * ({@link After}), and every feature of every entity is checked against the reference computed from the events:
 * nothing lost, nothing applied twice.
 */
@ExtendWith(TestServices.class)
@Timeout(600)
class OnlineConsumerCrashIT {
    private static final int EVENTS = 100_000;
    private static final Path JAR = Path.of("target/featurepipe-dev.jar").toAbsolutePath();
    private static final String REGISTRY = Path.of("src/test/resources/registry/property.yaml").toAbsolutePath().toString();

    private Process consumer;
    private Process peer;

    /** Who goes on after the kill. */
    enum After {
        /** the killed consumer, restarted under its name, re-reads its pending entries */
        RESTARTED,
        /** another consumer starts instead and takes its shards, and their pending entries, once its lease ends */
        SUCCESSOR,
        /** a second consumer that ran beside it all along takes its shards over */
        PEER
    }

    @AfterEach
    void stopConsumer() {
        for (Process p : Arrays.asList(consumer, peer)) {
            if (p != null) {
                p.destroyForcibly();
            }
        }
    }

    @ParameterizedTest(name = "after the kill: {0}")
    @EnumSource(After.class)
    void aConsumerKilledMidStreamResumesToExactlyTheReferenceValues(After after) throws Exception {
        Config config = TestServices.config(REGISTRY, Map.of());
        Registry registry = RegistryLoader.load(Path.of(REGISTRY));
        Shards shards = TestServices.shards(config.get(Config.STREAM));
        try (RedisConnections redis = new RedisConnections(config.get(Config.REDIS_URL))) {
            shards.streams().forEach(stream -> RedisEventSource.ensureGroup(redis.shared().sync(), stream, OnlineConsumer.GROUP));
            List<Tx> events = appendEvents(redis, registry, shards);
            long entries = shards.streams().stream().mapToLong(stream -> redis.shared().sync().xlen(stream)).sum();

            consumer = startConsumer(config, "crash-test");
            if (after == After.PEER) {
                peer = startConsumer(config, "crash-test-peer");
                await().atMost(Duration.ofMinutes(1)).until(() -> redis.shared().sync()
                        .zcard(StreamKeys.workers(shards.stream(), OnlineConsumer.GROUP)) == 2);
            }
            // kill it while it holds a batch it has read but not acknowledged
            await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(1)).until(() ->
                    acknowledged(redis, shards) >= entries / 4 && pending(redis, shards) > 0);
            consumer.destroyForcibly().waitFor(); // SIGKILL: no shutdown hook runs
            long before = acknowledged(redis, shards);
            long pendingAtKill = pending(redis, shards);
            assertThat(before).as("killed in the middle").isLessThan(entries);
            assertThat(pendingAtKill).as("killed holding a batch").isPositive();

            if (after != After.PEER) {
                consumer = startConsumer(config, after == After.SUCCESSOR ? "crash-test-successor" : "crash-test");
            }
            await().atMost(Duration.ofMinutes(5)).until(() -> StreamGroups.status(redis.shared().sync(), shards).stream()
                    .allMatch(StreamGroups.GroupStatus::caughtUp));

            if (after == After.PEER) {
                for (String shard : shards.streams()) {
                    assertThat(redis.shared().sync().get(StreamKeys.lease(shard, OnlineConsumer.GROUP)))
                            .as("the holder of " + shard + " after the kill").isEqualTo("crash-test-peer");
                }
            }
            long t = System.currentTimeMillis();
            RedisOnlineStore online = new RedisOnlineStore(redis, registry, shards, Clock.systemUTC(),
                    config.get(Config.ONLINE_SCRIPT_EVENTS), config.get(Config.ONLINE_PRUNE_PERIODS));
            List<ServedFeature> features = List.copyOf(registry.served("user").values());
            Map<String, List<Tx>> byUser = new HashMap<>();
            events.forEach(e -> byUser.computeIfAbsent(e.user(), u -> new ArrayList<>()).add(e));
            Map<String, Map<String, Object>> served = online.read("user", new ArrayList<>(byUser.keySet()), features, t);
            List<String> mismatches = new ArrayList<>();
            for (Map.Entry<String, List<Tx>> user : byUser.entrySet()) {
                for (ServedFeature f : features) {
                    ServedFeature.WindowValue w = (ServedFeature.WindowValue) f;
                    Object expected = PropertyModel.reference(w, user.getValue(), t);
                    Object actual = served.get(user.getKey()).getOrDefault(w.name(), PropertyModel.absent(w));
                    if (!PropertyModel.same(expected, actual)) {
                        mismatches.add(w.name() + " of " + user.getKey() + ": reference " + expected + ", online " + actual);
                    }
                }
            }
            System.out.printf("crash: killed after %d of %d entries acknowledged (%d read, not acknowledged), "
                    + "%d users x %d features compared, %d mismatched%n",
                    before, entries, pendingAtKill, byUser.size(), features.size(), mismatches.size());
            assertThat(mismatches).isEmpty();
        }
    }

    /** 100,000 events for 400 users over the last 30 hours; every 20th is appended a second time. */
    private static List<Tx> appendEvents(RedisConnections redis, Registry registry, Shards shards) {
        RedisEventLog log = new RedisEventLog(redis, new EventCodec(new ObjectMapper(), registry), shards, Duration.ZERO,
                Long.MAX_VALUE, 100);
        Random random = new Random(99);
        long now = System.currentTimeMillis();
        String run = UUID.randomUUID().toString().substring(0, 8);
        List<String> users = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            users.add(run + "-" + i);
        }
        List<Tx> events = new ArrayList<>();
        while (events.size() < EVENTS) {
            List<Tx> chunk = PropertyModel.generate(random, users.subList(events.size() / 250 % 400, events.size() / 250 % 400 + 1), now, now);
            events.addAll(chunk);
        }
        List<Tx> appended = new ArrayList<>(events);
        for (int i = 0; i < events.size(); i += 20) {
            appended.add(events.get(i));
        }
        for (int from = 0; from < appended.size(); from += 1000) {
            log.append(appended.subList(from, Math.min(appended.size(), from + 1000)).stream().map(Tx::event).toList());
        }
        return events;
    }

    private static Process startConsumer(Config config, String name) throws IOException {
        assertThat(Files.exists(JAR)).as(JAR + " (built by mvn package)").isTrue();
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-jar", JAR.toString(), "run", "--roles", "online", "--consumer-name", name, "--claim-idle", "2s", "--shard-lease", "3s"));
        for (Setting<?> s : List.of(Config.REDIS_URL, Config.MONGO_URI, Config.STREAM, Config.STREAM_SHARDS, Config.MONGO_DATABASE)) {
            command.add(s.flag() + "=" + config.get(s));
        }
        command.add(Config.REGISTRY.flag() + "=" + REGISTRY);
        return new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(Path.of("target/crash-consumer.log").toFile())).start();
    }

    /** Entries the online group holds read and not acknowledged, over all shards. */
    private static long pending(RedisConnections redis, Shards shards) {
        return StreamGroups.status(redis.shared().sync(), shards).stream().mapToLong(StreamGroups.GroupStatus::pending).sum();
    }

    /** Entries (of up to 100 events) the online group has read and acknowledged, over all shards. */
    private static long acknowledged(RedisConnections redis, Shards shards) {
        return shards.streams().stream().mapToLong(stream -> acknowledged(redis, stream)).sum();
    }

    private static long acknowledged(RedisConnections redis, String stream) {
        var info = redis.shared().sync().xinfoGroups(stream);
        List<?> group = (List<?>) info.get(0);
        long read = 0;
        long pending = 0;
        for (int i = 0; i + 1 < group.size(); i += 2) {
            if (group.get(i + 1) instanceof Number n && "entries-read".equals(group.get(i))) {
                read = n.longValue();
            } else if (group.get(i + 1) instanceof Number n && "pending".equals(group.get(i))) {
                pending = n.longValue();
            }
        }
        return read - pending;
    }
}
