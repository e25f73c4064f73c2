package dev.featurepipe.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EntityHashTest {
    @Test
    void itIsSipHash24WithAZeroKeyAsClickHouseComputesIt() {
        // SELECT sipHash64(...) on ClickHouse 18.16 (ClickHouseClusterIT checks 400 more against the server)
        assertThat(Long.toUnsignedString(EntityHash.of(""))).isEqualTo("2202906307356721367");
        assertThat(Long.toUnsignedString(EntityHash.of("abc"))).isEqualTo("4596069200710135518");
        assertThat(Long.toUnsignedString(EntityHash.of("12680"))).isEqualTo("2200261493952423647");
        assertThat(Long.toUnsignedString(EntityHash.of("abcdefgh"))).isEqualTo("16599038366039810451");
        assertThat(Long.toUnsignedString(EntityHash.of("日本語🎉"))).isEqualTo("6085416632540544834");
    }

    @Test
    void theShardIsTheUnsignedRemainder() {
        assertThat(EntityHash.of("abcdefgh")).isNegative(); // above 2^63: a signed remainder would be negative
        BigInteger hash = new BigInteger("16599038366039810451");
        for (int shards : new int[] {1, 2, 3, 7, 1000}) {
            assertThat(EntityHash.shard("abcdefgh", shards)).isEqualTo(hash.mod(BigInteger.valueOf(shards)).intValue());
        }
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
