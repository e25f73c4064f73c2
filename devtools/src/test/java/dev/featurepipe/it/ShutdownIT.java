package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.config.Config;
import dev.featurepipe.offline.OfflineSink;
import dev.featurepipe.online.OnlineConsumer;
import dev.featurepipe.redis.Shards;
import dev.featurepipe.redis.RedisConnections;
import dev.featurepipe.redis.StreamGroups;
import io.lettuce.core.Consumer;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * SIGTERM to a pipeline process (every role but materialize) under a steady stream of events: readiness fails
 * first, the process ends within 10 s leaving nothing pending on its consumer, and after a restart every event
 * that was answered 202 is in ClickHouse and counted online exactly once.
 */
@ExtendWith(TestServices.class)
@Timeout(300)
class ShutdownIT {
    private static final String REGISTRY = Path.of("src/test/resources/registry/it.yaml").toAbsolutePath().toString();
    private static final String NAME = "shutdown-test";
    private static final int SENDERS = 4;
    private static final int USERS = 20;
    private static final Pattern HTTP_PORT = Pattern.compile("HTTP API on http://127\\.0\\.0\\.1:(\\d+)");

    @Test
    void aTerminatedProcessAnswersWhatItTookAcknowledgesWhatItHeldAndEndsWithin10Seconds() throws Exception {
        Config config = TestServices.config(REGISTRY, Map.of());
        String stream = config.get(Config.STREAM);
        Shards shards = TestServices.shards(stream);
        String database = config.get(Config.CLICKHOUSE_DATABASE);
        Map<String, String> env = new HashMap<>(Map.of("FP_REDIS_URL", TestServices.redisUrl().toString(),
                "FP_CLICKHOUSE_URL", TestServices.CLICKHOUSE.toString(), "FP_MONGO_URI", TestServices.MONGO,
                "FP_STREAM", stream, "FP_CLICKHOUSE_DATABASE", database, "FP_MONGO_DATABASE", config.get(Config.MONGO_DATABASE),
                "FP_REGISTRY", REGISTRY, "FP_HTTP_PORT", "0", "FP_CONSUMER_NAME", NAME));
        env.put("FP_STREAM_SHARDS", Integer.toString(shards.count()));
        env.put("FP_OFFLINE_BATCH_INTERVAL", "3s"); // SIGTERM comes while the offline batch is being filled
        env.put("FP_SERVE_DEADLINE", "10s");
        env.put("FP_SERVE_ONLINE_BUDGET", "10s");
        env.put("FP_SERVE_PROFILE_BUDGET", "10s");
        String roles = "ingest,online,offline,serve";

        Set<String> accepted = ConcurrentHashMap.newKeySet();
        List<Integer> readyAfterTerm = new CopyOnWriteArrayList<>();
        long exitMillis;
        try (RedisConnections redis = new RedisConnections(TestServices.redisUrl());
             FpProcess first = FpProcess.start("shutdown-first", env, "run", "--roles", roles)) {
            Api api = new Api(port(first));
            await().atMost(Duration.ofSeconds(60)).until(() -> api.get("/readyz").status() == 200);
            AtomicBoolean sending = new AtomicBoolean(true);
            List<Thread> senders = new ArrayList<>();
            for (int s = 0; s < SENDERS; s++) {
                int sender = s;
                Thread t = new Thread(() -> send(api, sender, sending, accepted));
                t.start();
                senders.add(t);
            }
            await().atMost(Duration.ofSeconds(60)).until(() -> accepted.size() >= 2000);

            AtomicBoolean terminated = new AtomicBoolean();
            Thread readiness = new Thread(() -> {
                while (!terminated.get()) {
                    Thread.onSpinWait();
                }
                try {
                    while (true) {
                        readyAfterTerm.add(api.get("/readyz").status());
                    }
                } catch (RuntimeException e) {
                    // the port is closed: the process is gone
                }
            });
            readiness.start();
            long term = System.nanoTime();
            first.terminate();
            terminated.set(true);
            Integer status = first.waitFor(30);
            exitMillis = (System.nanoTime() - term) / 1_000_000;
            sending.set(false);
            for (Thread t : senders) {
                t.join();
            }
            readiness.join();
            assertThat(status).as("ended").isNotNull();
            RedisClusterCommands<String, String> sync = redis.shared().sync();
            for (String group : List.of(OnlineConsumer.GROUP, OfflineSink.GROUP)) {
                for (String shard : shards.streams()) {
                    assertThat(sync.xpending(shard, Consumer.from(group, NAME), Range.create("-", "+"), Limit.from(10)))
                            .as("entries of group " + group + " left pending by the stopped consumer").isEmpty();
                }
            }
        }
        System.out.printf("shutdown: %d events accepted, ended %d ms after SIGTERM, readiness after it %s%n",
                accepted.size(), exitMillis, readyAfterTerm.stream().distinct().toList());
        assertThat(exitMillis).as("ms from SIGTERM to exit").isLessThan(10_000);
        assertThat(readyAfterTerm).as("/readyz while stopping").contains(503).doesNotContain(200);

        try (RedisConnections redis = new RedisConnections(TestServices.redisUrl());
             FpProcess second = FpProcess.start("shutdown-second", env, "run", "--roles", roles)) {
            Api api = new Api(port(second));
            await().atMost(Duration.ofSeconds(60)).until(() -> api.get("/readyz").status() == 200);
            await().atMost(Duration.ofSeconds(60)).until(() -> StreamGroups.status(redis.shared().sync(), shards).stream()
                    .allMatch(StreamGroups.GroupStatus::caughtUp));
            Set<String> offline = new HashSet<>(Arrays.asList(new ClickHouseClient(TestServices.CLICKHOUSE, null)
                    .execute("SELECT event_id FROM " + database + ".events FINAL FORMAT TabSeparated").split("\n")));
            offline.remove("");
            assertThat(offline).as("events in ClickHouse").isEqualTo(accepted);
            Map<String, Long> perUser = accepted.stream().collect(Collectors.groupingBy(ShutdownIT::user, Collectors.counting()));
            for (int u = 0; u < USERS; u++) {
                long served = api.get("/v1/features/user/u" + u + "?features=orders_24h").body().path("features")
                        .path("orders_24h").asLong();
                assertThat(served).as("orders_24h of u" + u).isEqualTo(perUser.getOrDefault("u" + u, 0L));
            }
        } finally {
            new ClickHouseClient(TestServices.CLICKHOUSE, null).execute("DROP DATABASE IF EXISTS " + database);
        }
    }

    /** Requests of 20 events, one after another, until told to stop or the process is gone. */
    private static void send(Api api, int sender, AtomicBoolean sending, Set<String> accepted) {
        for (int request = 0; sending.get(); request++) {
            List<String> ids = new ArrayList<>();
            StringBuilder body = new StringBuilder("[");
            for (int i = 0; i < 20; i++) {
                String id = "s" + sender + "-" + request + "-" + i + "-u" + ((request * 20 + i) % USERS);
                ids.add(id);
                body.append(i == 0 ? "" : ",").append("{\"event_id\": \"").append(id).append("\", \"event_type\": \"order\", ")
                        .append("\"user_id\": \"").append(user(id)).append("\", \"amount\": 1.5, \"sku\": \"k\"}");
            }
            try {
                Api.Reply reply = api.post("/v1/events", "application/json", body.append("]").toString());
                if (reply.status() == 202) {
                    accepted.addAll(ids);
                } else {
                    assertThat(reply.status()).as("refused while stopping").isEqualTo(503);
                }
            } catch (RuntimeException e) {
                return; // the port is closed
            }
        }
    }

    private static String user(String eventId) {
        return eventId.substring(eventId.lastIndexOf('-') + 1);
    }

    private static int port(FpProcess process) {
        await().atMost(Duration.ofSeconds(60)).until(() -> HTTP_PORT.matcher(process.output()).find());
        Matcher m = HTTP_PORT.matcher(process.output());
        assertThat(m.find()).isTrue();
        return Integer.parseInt(m.group(1));
    }
}
