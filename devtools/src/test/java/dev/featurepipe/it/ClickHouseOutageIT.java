package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.config.Config;
import dev.featurepipe.redis.StreamGroups;
import dev.featurepipe.services.LocalServices;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * ClickHouse is stopped for 30 s under a steady stream of events and started again: every accepted event is in
 * ClickHouse exactly once, the stream stayed within its bound, and the only 5xx was the declared 503.
 */
@ExtendWith(TestServices.class)
@Timeout(300)
class ClickHouseOutageIT {
    /** Stream entries; each holds one request of 50 events, so 15,000 events. */
    private static final int MAX_BACKLOG = 300;

    @Test
    void nothingIsLostOrDoubledWhileClickHouseIsDown() throws Exception {
        Config config = TestServices.config("src/test/resources/registry/it.yaml", Map.of(
                Config.STREAM_MAX_BACKLOG, Integer.toString(MAX_BACKLOG), Config.STREAM_TRIM_INTERVAL, "200ms"));
        String user = "outage-" + UUID.randomUUID();
        Set<String> accepted = ConcurrentHashMap.newKeySet();
        Map<Integer, Long> statuses = new TreeMap<>();
        AtomicLong longestStream = new AtomicLong();
        AtomicBoolean sending = new AtomicBoolean(true);
        LocalServices services = TestServices.local();
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.allOf(Role.class), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            String stream = config.get(Config.STREAM);
            Thread sender = new Thread(() -> {
                ObjectMapper json = new ObjectMapper();
                while (sending.get()) {
                    ArrayNode batch = json.createArrayNode();
                    List<String> ids = IntStream.range(0, 50).mapToObj(i -> UUID.randomUUID().toString()).toList();
                    ids.forEach(id -> batch.addObject().put("event_id", id).put("event_type", "order").put("user_id", user)
                            .put("amount", 2.5).put("sku", "a"));
                    Api.Reply reply = api.post("/v1/events", "application/json", batch.toString());
                    synchronized (statuses) {
                        statuses.merge(reply.status(), 1L, Long::sum);
                    }
                    if (reply.status() == 202) {
                        accepted.addAll(ids);
                    }
                    longestStream.accumulateAndGet(pipeline.redis().shared().sync().xlen(stream), Math::max);
                    Sleep.millis(reply.status() == 503 ? 1000 : 40);
                }
            }, "steady-sender");
            sender.start();
            Thread.sleep(5_000);
            services.down(List.of("clickhouse"));
            Thread.sleep(30_000);
            services.up();
            Thread.sleep(5_000);
            sending.set(false);
            sender.join();

            await().atMost(Duration.ofMinutes(2)).until(() -> StreamGroups.status(pipeline.redis().shared().sync(), stream)
                    .stream().allMatch(StreamGroups.GroupStatus::caughtUp));
            ClickHouseClient clickhouse = new ClickHouseClient(config.get(Config.CLICKHOUSE_URL), config.get(Config.CLICKHOUSE_DATABASE));
            String where = " WHERE entity_id = '" + user + "' FORMAT TabSeparated";
            long rows = Long.parseLong(clickhouse.execute("SELECT count() FROM events FINAL" + where).trim());
            long ids = Long.parseLong(clickhouse.execute("SELECT uniqExact(event_id) FROM events" + where).trim());
            System.out.printf("outage: %d events accepted, responses by status %s, longest stream %d, ClickHouse rows %d%n",
                    accepted.size(), statuses, longestStream.get(), rows);

            assertThat(accepted.size()).isGreaterThan(10_000);
            assertThat(rows).isEqualTo(accepted.size());
            assertThat(ids).isEqualTo(accepted.size());
            assertThat(statuses.keySet()).allSatisfy(s -> assertThat(s).isIn(202, 503));
            assertThat(statuses).containsKey(503);
            assertThat(longestStream.get()).isLessThanOrEqualTo(MAX_BACKLOG);
        } finally {
            sending.set(false);
            services.up();
        }
    }
}
