package dev.featurepipe.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.it.TestServices;
import dev.featurepipe.online.WindowCache;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The window cache serves what it holds only for the generation and lower bound it was computed for: a write to the
 * entity or the next tile period makes the next read fold the tiles again.
 */
@ExtendWith(TestServices.class)
@Timeout(60)
class WindowCacheIT {
    private static final long MINUTE = 60_000;
    /** A 5-minute tile boundary, so that the 10m window's lower bound moves 5 minutes later. */
    private static final long T = Instant.parse("2026-05-01T10:00:00Z").toEpochMilli();

    private final Registry registry = RegistryLoader.load(Path.of("src/test/resources/registry/it.yaml"));
    private final List<ServedFeature> features = List.of(registry.served("user").get("orders_10m"),
            registry.served("user").get("spend_1h"));
    private Config config;
    private RedisConnections redis;
    private RedisClusterCommands<String, String> sync;
    private RedisOnlineStore store;
    private String cache;

    @BeforeEach
    void connect() {
        config = TestServices.config("src/test/resources/registry/it.yaml", Map.of());
        redis = new RedisConnections(config.get(Config.REDIS_URL));
        sync = redis.shared().sync();
        Shards shards = TestServices.oneShard(config.get(Config.STREAM));
        store = new RedisOnlineStore(redis, registry, shards, Clock.fixed(Instant.ofEpochMilli(T), ZoneOffset.UTC),
                config.get(Config.ONLINE_SCRIPT_EVENTS), config.get(Config.ONLINE_PRUNE_PERIODS));
        cache = StreamKeys.state(shards.prefix(0), "user", "u1");
    }

    @AfterEach
    void close() {
        redis.close();
    }

    private void order(String id, long ts, double amount) {
        store.apply(List.of(new LoggedEvent("1-0", new Event(id, "order", "u1", ts, Map.of("amount", amount, "sku", "a")))));
    }

    private Map<String, Object> read(long now) {
        return store.read("user", List.of("u1"), features, now).get("u1");
    }

    @Test
    void aCachedValueIsServedUntilAWriteOrTheNextTilePeriod() {
        order("e1", T - 9 * MINUTE, 2.0); // in the 10m window until its lower bound moves past it
        assertThat(read(T + MINUTE)).containsEntry("orders_10m", 1L).containsEntry("spend_1h", 2.0);

        // the write-back is not awaited by the read, and goes on the connection of reads
        String entry = await().atMost(Duration.ofSeconds(5)).until(() -> sync.hget(cache, "orders_10m"), e -> e != null);
        assertThat(entry).as("written back with the generation and lower bound").startsWith(sync.hget(cache, WindowCache.GENERATION) + " ");
        sync.hset(cache, "orders_10m", entry.replace(" v1", " v41")); // only a read from the cache can see this
        assertThat(read(T + 2 * MINUTE)).as("same generation, same lower bound").containsEntry("orders_10m", 41L);

        order("e2", T + 2 * MINUTE, 3.0);
        assertThat(read(T + 3 * MINUTE)).as("a write makes the next read fold again")
                .containsEntry("orders_10m", 2L).containsEntry("spend_1h", 5.0);

        assertThat(read(T + 6 * MINUTE)).as("the next tile period drops e1's tile from the 10m window")
                .containsEntry("orders_10m", 1L).containsEntry("spend_1h", 5.0);
    }

    @Test
    void aWriteBackOfAnOlderGenerationIsRefused() {
        order("e1", T, 2.0);
        read(T);
        String generation = sync.hget(cache, WindowCache.GENERATION);
        order("e2", T, 3.0);
        String current = sync.hget(cache, WindowCache.GENERATION);
        long lowerBound = ((ServedFeature.WindowValue) features.get(1)).window().lowerBound(T);
        // as a read that saw the older generation would write back, with an entry the current one would serve
        sync.eval(OnlineRead.WRITE_BACK, ScriptOutputType.INTEGER, new String[] {cache}, generation,
                "spend_1h", current + " " + lowerBound + " v999");

        assertThat(read(T)).containsEntry("spend_1h", 5.0);
    }
}
