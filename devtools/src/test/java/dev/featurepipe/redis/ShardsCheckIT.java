package dev.featurepipe.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.featurepipe.config.Config;
import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.it.TestServices;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** What is fixed for the life of a store: the shard count and the online layout, kept beside the stream. */
@ExtendWith(TestServices.class)
@Timeout(60)
class ShardsCheckIT {
    private final String stream = "it-check-" + UUID.randomUUID();
    private RedisConnections redis;

    @BeforeEach
    void connect() {
        redis = new RedisConnections(TestServices.config("src/test/resources/registry/it.yaml", Map.of()).get(Config.REDIS_URL));
    }

    @AfterEach
    void close() {
        redis.close();
    }

    private Shards shards(int count) {
        return new Shards(stream, count, redis.cluster());
    }

    @Test
    void aNewStreamKeepsItsCountAndLayoutAndAnotherCountIsRefused() {
        shards(2).check(redis);
        assertThat(redis.shared().sync().get(StreamKeys.layout(stream))).isEqualTo(Shards.LAYOUT);
        shards(2).check(redis);
        assertThatThrownBy(() -> shards(3).check(redis)).isInstanceOf(FeaturepipeException.class)
                .hasMessageContaining("has 2 shard(s)").hasMessageContaining("FP_STREAM_SHARDS is 3");
    }

    @Test
    void aStreamUsedBeforeTheLayoutWasKeptIsRefusedWithWhatToDo() {
        Shards one = shards(1);
        redis.shared().sync().xadd(one.prefix(0), Map.of("e", "{}"));
        one.check(redis);
        redis.shared().sync().del(StreamKeys.layout(stream)); // as the version before left it: a count, no layout
        assertThatThrownBy(() -> one.check(redis)).isInstanceOf(FeaturepipeException.class)
                .hasMessageContaining("layout 1").hasMessageContaining("new FP_STREAM");
        assertThat(redis.shared().sync().exists(StreamKeys.layout(stream))).as("nothing kept").isZero();
    }

    @Test
    void aStreamMadeBeforeItsFirstCheckIsNew() {
        Shards one = shards(1);
        redis.shared().sync().xadd(one.prefix(0), Map.of("e", "{}")); // as creating a consumer group does
        one.check(redis);
        assertThat(redis.shared().sync().get(StreamKeys.layout(stream))).isEqualTo(Shards.LAYOUT);
    }
}
