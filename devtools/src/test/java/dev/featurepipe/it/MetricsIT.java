package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import dev.featurepipe.offline.OfflineSink;
import dev.featurepipe.online.OnlineConsumer;
import dev.featurepipe.redis.StreamGroups;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** The metrics of each stage say what happened: what a group was given, how far behind it is, what serving read. */
@ExtendWith(TestServices.class)
@Timeout(120)
class MetricsIT {
    private static final String REGISTRY = "src/test/resources/registry/it.yaml";

    /** The value of the sample {@code name{labels}} in Prometheus's text format, if it is there. */
    private static OptionalDouble sample(String text, String name, String labels) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name + (labels.isEmpty() ? "" : "{" + labels + "}"))
                + " (\\S+)$").matcher(text);
        return m.find() ? OptionalDouble.of(Double.parseDouble(m.group(1))) : OptionalDouble.empty();
    }

    private static double value(String text, String name, String labels) {
        OptionalDouble v = sample(text, name, labels);
        assertThat(v).as(name + "{" + labels + "} in /metrics").isPresent();
        return v.getAsDouble();
    }

    @Test
    void eachStageCountsWhatItDid() {
        Config config = TestServices.config(REGISTRY, Map.of(Config.STREAM_TRIM_INTERVAL, "100ms"));
        String user = "metrics-" + UUID.randomUUID();
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST, Role.ONLINE, Role.OFFLINE, Role.SERVE),
                Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/readyz").status() == 200);
            long now = System.currentTimeMillis();
            List<Map<String, Object>> events = List.of(
                    Map.of("event_id", "m1", "event_type", "order", "user_id", user, "amount", 5.0, "sku", "a", "ts", now - 60_000),
                    Map.of("event_id", "m2", "event_type", "order", "user_id", user, "amount", 7.0, "sku", "b", "ts", now - 30_000),
                    Map.of("event_id", "m3", "event_type", "order", "user_id", user, "amount", 1.0, "sku", "c", "ts", now - 90_000));
            assertThat(api.postJson("/v1/events", events).status()).isEqualTo(202);
            await().atMost(Duration.ofSeconds(60)).until(() -> StreamGroups.status(pipeline.redis().shared().sync(),
                    pipeline.stores().shards()).stream().allMatch(StreamGroups.GroupStatus::caughtUp));
            for (int i = 0; i < 3; i++) {
                assertThat(api.get("/v1/features/user/" + user + "?features=orders_1h,spend_1h,country").status()).isEqualTo(200);
            }

            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                String text = api.getText("/metrics");
                for (String group : List.of(OnlineConsumer.GROUP, OfflineSink.GROUP)) {
                    String g = "group=\"" + group + "\"";
                    assertThat(value(text, "featurepipe_stream_group_pending", g)).isZero();
                    assertThat(value(text, "featurepipe_stream_group_lag", g)).isZero();
                    assertThat(value(text, "featurepipe_consumer_batch_events_sum", g)).isEqualTo(3);
                    // the newest of the three events is 30 s old; they are all on the user's shard
                    String ofShard = g + ",stream=\"" + pipeline.stores().shards().prefixOf(user) + "\"";
                    assertThat(value(text, "featurepipe_consumer_event_age_seconds", ofShard)).isBetween(30.0, 90.0);
                }
                assertThat(value(text, "featurepipe_stream_dead_letters", "")).isZero();
                assertThat(value(text, "featurepipe_serve_source_latency_seconds_count", "source=\"online\"")).isGreaterThanOrEqualTo(3);
                assertThat(value(text, "featurepipe_serve_source_latency_seconds_count", "source=\"profile\"")).isGreaterThanOrEqualTo(3);
                // the first read folds the two windows' tiles, the next ones find them cached
                assertThat(value(text, "featurepipe_serve_window_cache_total", "result=\"miss\"")).isGreaterThanOrEqualTo(2);
                assertThat(value(text, "featurepipe_serve_window_cache_total", "result=\"hit\"")).isGreaterThanOrEqualTo(4);
            });
        }
    }
}
