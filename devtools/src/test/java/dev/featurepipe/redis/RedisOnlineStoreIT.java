package dev.featurepipe.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.OnlineStore;
import dev.featurepipe.core.StoreRejectedException;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.it.TestServices;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Each event is applied once however batches repeat it: within one script call, across calls, across batches; tiles
 * no window reads any more are dropped.
 */
@ExtendWith(TestServices.class)
@Timeout(60)
class RedisOnlineStoreIT {
    private static final long T = Instant.parse("2026-05-01T10:00:00Z").toEpochMilli();

    private final Registry registry = RegistryLoader.load(Path.of("src/test/resources/registry/it.yaml"));
    private final List<ServedFeature> features = List.of(registry.served("user").get("orders_1h"),
            registry.served("user").get("spend_1h"), registry.served("user").get("last_skus"));
    private RedisConnections redis;
    private Shards shards;
    private RedisOnlineStore store;

    @BeforeEach
    void connect() {
        Config config = TestServices.config("src/test/resources/registry/it.yaml", Map.of());
        redis = new RedisConnections(config.get(Config.REDIS_URL));
        // calls of 2 events: a batch of 5 takes three calls
        shards = TestServices.oneShard(config.get(Config.STREAM));
        store = storeAt(T);
    }

    private RedisOnlineStore storeAt(long now) {
        return new RedisOnlineStore(redis, registry, shards, Clock.fixed(Instant.ofEpochMilli(now), ZoneOffset.UTC), 2, 1);
    }

    @AfterEach
    void close() {
        redis.close();
    }

    private static LoggedEvent order(String id, long minutesAgo, double amount, String sku) {
        return new LoggedEvent("1-0", new Event(id, "order", "u1", T - minutesAgo * 60_000, Map.of("amount", amount, "sku", sku)));
    }

    @Test
    void repeatedEventsAreAppliedOnce() {
        OnlineStore.ApplyResult first = store.apply(List.of(order("e1", 5, 1.5, "a"), order("e2", 4, 2.0, "b"),
                order("e1", 5, 1.5, "a"), order("e3", 3, 4.25, "c"), order("e2", 4, 2.0, "b")));
        assertThat(first.applied()).isEqualTo(3);
        assertThat(first.duplicates()).isEqualTo(2);

        // e2 and e3 were applied: the call that carries them with e4 writes nothing, then e4 is sent alone
        OnlineStore.ApplyResult second = store.apply(List.of(order("e2", 4, 2.0, "b"), order("e4", 2, 0.5, "d"),
                order("e3", 3, 4.25, "c")));
        assertThat(second.applied()).isEqualTo(1);
        assertThat(second.duplicates()).isEqualTo(2);

        Map<String, Object> values = store.read("user", List.of("u1"), features, T).get("u1");
        assertThat(values).containsEntry("orders_1h", 4L).containsEntry("spend_1h", 8.25)
                .containsEntry("last_skus", List.of("d", "c", "b"));
    }

    @Test
    void aValueThatIsNotAFiniteNumberFailsItsCallBeforeAnythingIsWritten() {
        assertThatThrownBy(() -> store.apply(List.of(order("f1", 5, 1.0, "a"), order("f2", 4, Double.POSITIVE_INFINITY, "b"))))
                .isInstanceOf(StoreRejectedException.class).hasMessageContaining("spend").hasMessageContaining("Infinity");
        assertThat(store.read("user", List.of("u1"), features, T).get("u1")).as("nothing written").isEmpty();

        OnlineStore.ApplyResult alone = store.apply(List.of(order("f1", 5, 1.0, "a")));
        assertThat(alone.applied()).as("f1 was not marked as applied").isEqualTo(1);
        assertThat(store.read("user", List.of("u1"), features, T).get("u1")).containsEntry("orders_1h", 1L);
    }

    @Test
    void aWriteOnceThePrunePeriodsHavePassedDropsTilesNoWindowReads() {
        String user = "tiles-" + UUID.randomUUID();
        long dayLater = T + Duration.ofHours(25).toMillis();
        storeAt(T).apply(List.of(new LoggedEvent("1-0", new Event(user + "-1", "order", user, T - 60_000, Map.of("amount", 1.0, "sku", "a")))));
        String state = StreamKeys.state(shards.prefix(0), "user", user);
        assertThat(tileStarts(state)).as("the first event's tiles").allMatch(start -> start < T).isNotEmpty();

        RedisOnlineStore later = storeAt(dayLater);
        long hkeysBefore = calls("hkeys");
        later.apply(List.of(new LoggedEvent("1-1", new Event(user + "-2", "order", user, dayLater - 60_000, Map.of("amount", 2.0, "sku", "b")))));
        assertThat(tileStarts(state)).as("only the second event's tiles: no window reads the first's").allMatch(start -> start > T);
        assertThat(calls("hkeys")).as("the entity's fields read to drop them").isGreaterThan(hkeysBefore);

        long hkeysAfter = calls("hkeys");
        later.apply(List.of(new LoggedEvent("1-2", new Event(user + "-3", "order", user, dayLater - 30_000, Map.of("amount", 4.0, "sku", "c")))));
        assertThat(calls("hkeys")).as("pruned in this period: not read again").isEqualTo(hkeysAfter);
        assertThat(later.read("user", List.of(user), List.of(registry.served("user").get("spend_1h")), dayLater).get(user))
                .containsEntry("spend_1h", 6.0);
    }

    /** The tile starts of the fields {@code <feature>/<ms>:<start>:<part>} of a state hash. */
    private List<Long> tileStarts(String key) {
        return redis.shared().sync().hkeys(key).stream().filter(f -> f.matches("[a-z_0-9]+/\\d+:\\d+:.*"))
                .map(field -> Long.parseLong(field.split(":")[1])).toList();
    }

    private long calls(String command) {
        return redis.shared().sync().info("commandstats").lines().filter(l -> l.startsWith("cmdstat_" + command + ":"))
                .mapToLong(l -> Long.parseLong(l.substring(("cmdstat_" + command + ":calls=").length(), l.indexOf(',')))).sum();
    }
}
