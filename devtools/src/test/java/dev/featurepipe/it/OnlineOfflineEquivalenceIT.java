package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.clickhouse.FeatureSql;
import dev.featurepipe.it.PropertyModel.Tx;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.redis.RedisConnections;
import dev.featurepipe.redis.RedisOnlineStore;
import dev.featurepipe.verify.SkewCheck;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The no-skew property: random event sequences (random times inside and outside every window, shuffled, with
 * duplicates and redeliveries) give, for every feature of a registry that uses every aggregation, the same value
 * three ways: served from the online store, computed by ClickHouse from the feature's SQL at the same instant,
 * and computed here from the plain event list by a straightforward reading of the window semantics.
 * Seeded: {@code -Dfp.property.seed=N -Dfp.property.cases=N} reproduce a run.
 */
@ExtendWith(TestServices.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(600)
class OnlineOfflineEquivalenceIT {
    private static final long SEED = Long.getLong("fp.property.seed", 20261124L);
    private static final int CASES = Integer.getInteger("fp.property.cases", 2000);
        private static final long BASE = Instant.parse("2026-06-01T00:00:00Z").toEpochMilli();

    private final ObjectMapper json = new ObjectMapper();
    private final Registry registry = RegistryLoader.load(Path.of("src/test/resources/registry/property.yaml"));
    private final MutableClock clock = new MutableClock(BASE);
    private Config config;
    private RedisConnections redis;
    private RedisOnlineStore online;
    private ClickHouseEventTable offline;

    @BeforeAll
    void start() {
        config = TestServices.config("src/test/resources/registry/property.yaml", Map.of());
        redis = new RedisConnections(config.get(Config.REDIS_URL));
        // script calls of 7 events, so batches are cut across calls and an entity's updates are folded in several
        online = new RedisOnlineStore(redis, registry, TestServices.shards(config.get(Config.STREAM)), clock, 7, 1);
        offline = new ClickHouseEventTable(new ClickHouseClient(config.get(Config.CLICKHOUSE_URL), null),
                config.get(Config.CLICKHOUSE_DATABASE), registry);
        offline.ensureSchema();
    }

    @AfterAll
    void stop() {
        redis.close();
        new ClickHouseClient(config.get(Config.CLICKHOUSE_URL), null)
                .execute("DROP DATABASE IF EXISTS " + config.get(Config.CLICKHOUSE_DATABASE));
    }

    @Test
    void onlineOfflineAndReferenceAgreeOnEveryFeatureOfEveryRandomSequence() throws Exception {
        Random random = new Random(SEED);
        Map<String, Long> asOf = new LinkedHashMap<>();
        Map<String, List<Tx>> byUser = new HashMap<>();
        Map<String, Map<String, Object>> served = new HashMap<>();
        List<Tx> sentOffline = new ArrayList<>();
        List<ServedFeature> features = List.copyOf(registry.served("user").values());
        String run = UUID.randomUUID().toString().substring(0, 8);
        for (int c = 0; c < CASES; c++) {
            long now = BASE + random.nextInt(90 * 24) * PropertyModel.HOUR + random.nextInt((int) PropertyModel.HOUR);
            long t = now + random.nextInt((int) (20 * PropertyModel.MINUTE));
            List<String> users = List.of(run + "-" + c + "-a", run + "-" + c + "-b", run + "-" + c + "-c");
            List<Tx> events = PropertyModel.generate(random, users, now, t);
            clock.set(now);
            // a read between cuts fills the window caches, which the later cuts must invalidate
            applyInRandomCuts(random, events, () -> online.read("user", users, features, t));
            users.forEach(u -> asOf.put(u, t));
            users.forEach(u -> byUser.put(u, events.stream().filter(e -> e.user().equals(u)).toList()));
            Map<String, Map<String, Object>> folded = online.read("user", users, features, t);
            Map<String, Map<String, Object>> cached = online.read("user", users, features, t);
            assertThat(cached).as("read again, from the window caches").isEqualTo(folded);
            served.putAll(cached);
            sentOffline.addAll(events);
        }
        for (int from = 0; from < sentOffline.size(); from += 50_000) {
            offline.insert(LoggedEvent.asHistory(sentOffline.subList(from, Math.min(sentOffline.size(), from + 50_000)).stream()
                    .map(Tx::event).toList()));
        }

        List<String> mismatches = new ArrayList<>();
        int compared = 0;
        for (ServedFeature f : features) {
            ServedFeature.WindowValue w = (ServedFeature.WindowValue) f;
            Map<String, Object> offlineValues = offlineValues(w, asOf);
            for (Map.Entry<String, Long> user : asOf.entrySet()) {
                Object expected = PropertyModel.reference(w, byUser.get(user.getKey()), user.getValue());
                Object onlineValue = served.get(user.getKey()).getOrDefault(w.name(), PropertyModel.absent(w));
                Object offlineValue = offlineValues.getOrDefault(user.getKey(), PropertyModel.absent(w));
                compared += 2;
                if (!PropertyModel.same(expected, onlineValue)) {
                    mismatches.add(w.name() + " of " + user.getKey() + " at " + user.getValue() + ": reference " + expected
                            + ", online " + onlineValue);
                }
                if (!PropertyModel.same(expected, offlineValue)) {
                    mismatches.add(w.name() + " of " + user.getKey() + " at " + user.getValue() + ": reference " + expected
                            + ", ClickHouse " + offlineValue);
                }
            }
        }
        System.out.printf("equivalence: seed %d, %d cases, %d events, %d values compared, %d mismatched%n",
                SEED, CASES, sentOffline.size(), compared, mismatches.size());
        assertThat(compared).isGreaterThan(CASES * features.size() * 3);
        assertThat(mismatches).as("seed %d", SEED).isEmpty();
    }

    /** Applies the events in batches of random size, reading once between two of them, then redelivers some. */
    private void applyInRandomCuts(Random random, List<Tx> events, Runnable read) {
        List<LoggedEvent> logged = new ArrayList<>();
        for (int i = 0; i < events.size(); i++) {
            logged.add(new LoggedEvent("1-" + i, events.get(i).event()));
        }
        int readAfter = logged.isEmpty() ? 0 : random.nextInt(logged.size());
        for (int from = 0; from < logged.size(); ) {
            int to = Math.min(logged.size(), from + 1 + random.nextInt(30));
            online.apply(logged.subList(from, to));
            if (from <= readAfter && readAfter < to) {
                read.run();
            }
            from = to;
        }
        if (!logged.isEmpty()) {
            int from = random.nextInt(logged.size());
            online.apply(logged.subList(from, Math.min(logged.size(), from + 1 + random.nextInt(10))));
        }
    }

    private Map<String, Object> offlineValues(ServedFeature.WindowValue w, Map<String, Long> asOf) throws Exception {
        Map<String, Object> values = new HashMap<>();
        String rows = offline.query(FeatureSql.valuesAt(ClickHouseEventTable.TABLE, w.feature(), w.window(), asOf));
        for (String line : rows.split("\n")) {
            if (!line.isBlank()) {
                JsonNode row = json.readTree(line);
                values.put(row.get("key").asText(), SkewCheck.typed(w.feature(), row.get("value")));
            }
        }
        return values;
    }

}
