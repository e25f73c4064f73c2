package dev.featurepipe.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigTest {
    private final Path home = Path.of("/srv/fp");

    @Test
    void defaultsApplyAndFlagsWinOverTheEnvironment() {
        Config config = new Config(Map.of("FP_HTTP_PORT", "9090", "FP_OFFLINE_BATCH_INTERVAL", "250ms"),
                Map.of(Config.HTTP_PORT, "9191"), home);

        assertThat(config.get(Config.HTTP_PORT)).isEqualTo(9191);
        assertThat(config.get(Config.OFFLINE_BATCH_INTERVAL)).isEqualTo(Duration.ofMillis(250));
        assertThat(config.get(Config.REDIS_URL)).isEqualTo(URI.create("redis://127.0.0.1:6379"));
        assertThat(config.path(Config.REGISTRY)).isEqualTo(Path.of("/srv/fp/registry/retail.yaml"));
    }

    @Test
    void everyBadSettingIsNamedAtOnce() {
        assertThatThrownBy(() -> new Config(Map.of("FP_HTTP_PORT", "80a", "FP_REDIS_URL", "localhost:6379",
                "FP_ONLINE_BATCH", "0"), Map.of(), home))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("FP_HTTP_PORT (--http-port) = '80a': must be a whole number")
                .hasMessageContaining("FP_REDIS_URL (--redis-url) = 'localhost:6379': must look like redis://host:port")
                .hasMessageContaining("FP_ONLINE_BATCH (--online-batch) = '0': must be between 1 and 100000");
    }

    @Test
    void aRedisUrlIsOneNodeOrTheSeedNodesOfACluster() {
        String seeds = "redis-cluster://:secret@127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003?timeout=5s";
        assertThat(new Config(Map.of("FP_REDIS_URL", seeds), Map.of(), home).get(Config.REDIS_URL)).isEqualTo(URI.create(seeds));
        for (String bad : List.of("redis-cluster://127.0.0.1", "redis-cluster://a:1,,b:2", "redis-cluster://a:1/db",
                "memcached://a:1")) {
            assertThatThrownBy(() -> new Config(Map.of("FP_REDIS_URL", bad), Map.of(), home)).as(bad)
                    .hasMessageContaining("FP_REDIS_URL").hasMessageContaining("redis-cluster://host:port,host:port");
        }
        assertThatThrownBy(() -> new Config(Map.of("FP_STREAM", "fp:{events}"), Map.of(), home))
                .hasMessageContaining("FP_STREAM").hasMessageContaining("'{'");
        assertThatThrownBy(() -> new Config(Map.of("FP_STREAM_SHARDS", "1025"), Map.of(), home))
                .hasMessageContaining("FP_STREAM_SHARDS");
    }

    @Test
    void absurdDurationsAreRejectedByName() {
        assertThatThrownBy(() -> new Config(Map.of("FP_MAX_FUTURE_SKEW", "99999999999999999999d"), Map.of(), home))
                .hasMessageContaining("FP_MAX_FUTURE_SKEW (--max-future-skew)");
        assertThatThrownBy(() -> new Config(Map.of("FP_INGEST_DEDUPE_TTL", "4000d"), Map.of(), home))
                .hasMessageContaining("longer than the longest allowed duration, 3650d");
    }

    @Test
    void aClickHouseUrlWithAPasswordInItIsRefusedWithoutShowingThePassword() {
        assertThatThrownBy(() -> new Config(Map.of("FP_CLICKHOUSE_URL", "http://fp:hunter2@127.0.0.1:8123"), Map.of(), home))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("FP_CLICKHOUSE_URL (--clickhouse-url) = 'http://fp:***@127.0.0.1:8123': must not hold a user")
                .hasMessageContaining("FP_CLICKHOUSE_USER")
                .hasMessageNotContaining("hunter2");
    }

    @Test
    void clickHouseCredentialsDefaultToTheUserDefaultWithoutPassword() {
        Config config = new Config(Map.of(), Map.of(), home);

        assertThat(config.get(Config.CLICKHOUSE_USER)).isEqualTo("default");
        assertThat(config.get(Config.CLICKHOUSE_PASSWORD)).isEmpty();
    }

    @Test
    void theLargestNumberIsAFiniteNumberAboveZero() {
        assertThat(new Config(Map.of(), Map.of(), home).get(Config.MAX_ABS_NUMBER)).isEqualTo(1e19);
        assertThat(new Config(Map.of("FP_MAX_ABS_NUMBER", "1e300"), Map.of(), home).get(Config.MAX_ABS_NUMBER)).isEqualTo(1e300);
        for (String bad : new String[] {"0", "-5", "1e400", "NaN", "lots"}) {
            assertThatThrownBy(() -> new Config(Map.of("FP_MAX_ABS_NUMBER", bad), Map.of(), home)).as(bad)
                    .hasMessageContaining("FP_MAX_ABS_NUMBER (--max-abs-number) = '" + bad + "': must be a");
        }
    }
}
