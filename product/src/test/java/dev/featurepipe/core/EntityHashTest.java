package dev.featurepipe.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EntityHashTest {
    @Test
    void itIsSipHash24WithAZeroKeyAsClickHouseComputesIt() {
        // SELECT sipHash64(''), sipHash64('abc') on ClickHouse (the IT checks many more against the server)
        assertThat(Long.toUnsignedString(EntityHash.of(""))).isEqualTo("2202906307356721367");
        assertThat(Long.toUnsignedString(EntityHash.of("abc"))).isEqualTo("4596069200710135518");
    }

    @Test
    void entitiesSpreadOverTheShardsAboutEvenly() {
        Map<Integer, Integer> perShard = new HashMap<>();
        for (int i = 0; i < 40_000; i++) {
            perShard.merge(EntityHash.shard("customer-" + i, 4), 1, Integer::sum);
        }
        assertThat(perShard).hasSize(4).allSatisfy((shard, n) -> assertThat(n).isBetween(9_500, 10_500));
    }
}
