package dev.featurepipe.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import org.junit.jupiter.api.Test;

/** Known answers of ClickHouse 18.16's sipHash64 (ClickHouseClusterIT compares 400 more on the server). */
class EntityHashTest {
    @Test
    void theHashIsClickHouseSipHash64AsAnUnsignedNumber() {
        assertThat(Long.toUnsignedString(EntityHash.of(""))).isEqualTo("2202906307356721367");
        assertThat(Long.toUnsignedString(EntityHash.of("12680"))).isEqualTo("2200261493952423647");
        assertThat(Long.toUnsignedString(EntityHash.of("abcdefgh"))).isEqualTo("16599038366039810451");
        assertThat(Long.toUnsignedString(EntityHash.of("日本語🎉"))).isEqualTo("6085416632540544834");
    }

    @Test
    void theShardIsTheUnsignedRemainder() {
        assertThat(EntityHash.of("abcdefgh")).isNegative(); // above 2^63: a signed remainder would be negative
        BigInteger hash = new BigInteger("16599038366039810451");
        for (int shards : new int[] {2, 3, 7, 1000}) {
            assertThat(EntityHash.shard("abcdefgh", shards)).isEqualTo(hash.mod(BigInteger.valueOf(shards)).intValue());
        }
        assertThat(EntityHash.shard("anything", 1)).isZero();
    }
}
