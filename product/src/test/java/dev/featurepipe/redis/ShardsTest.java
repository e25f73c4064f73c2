package dev.featurepipe.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.featurepipe.core.EntityHash;
import io.lettuce.core.cluster.SlotHash;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ShardsTest {
    @Test
    void oneShardOnOneRedisKeepsTheKeysOfAnUnshardedLog() {
        Shards single = Shards.single("fp:events");
        assertThat(single.streams()).containsExactly("fp:events");
        assertThat(StreamKeys.feature(single.prefixOf("u1"), "user", "u1", "spend")).isEqualTo("fp:events:user:u1:spend");
    }

    @Test
    void everyKeyOfAnEntityIsInItsShardsSlotWhateverBracesItsIdHolds() {
        Shards shards = new Shards("fp:events", 4, true);
        for (String id : List.of("u1", "{u2}", "a}b{c", "{", "}", "ü-7", "")) {
            int shard = shards.of(id);
            assertThat(shard).isEqualTo(EntityHash.shard(id, 4));
            int slot = SlotHash.getSlot(shards.prefix(shard));
            assertThat(List.of(StreamKeys.feature(shards.prefixOf(id), "user", id, "spend"),
                    StreamKeys.state(shards.prefixOf(id), "user", id), StreamKeys.distinct(shards.prefixOf(id), "user", id),
                    StreamKeys.seen(shards.prefixOf(id), "user", id), StreamKeys.appliedMark(shards.prefixOf(id), "k"),
                    StreamKeys.ingestedMark(shards.prefixOf(id), "k"), StreamKeys.lease(shards.prefixOf(id), "online")))
                    .as("keys of " + id).allSatisfy(k -> assertThat(SlotHash.getSlot(k)).isEqualTo(slot));
        }
    }

    @Test
    void theShardsLieInEqualSharesOfTheSlotsSoTheySpreadOverTheMasters() {
        for (int count : List.of(1, 2, 3, 4, 7, 16, 1024)) {
            Shards shards = new Shards("s", count, true);
            Set<Integer> slots = new HashSet<>();
            for (int s = 0; s < count; s++) {
                int slot = SlotHash.getSlot(shards.prefix(s));
                assertThat(slot).as("shard " + s + " of " + count).isBetween(s * 16384 / count, (s + 1) * 16384 / count - 1);
                slots.add(slot);
            }
            assertThat(slots).hasSize(count);
        }
    }

    @Test
    void aStreamNameWithBracesOrAShardCountOutOfRangeIsRefused() {
        assertThatThrownBy(() -> new Shards("fp:{x}", 2, false)).hasMessageContaining("brace");
        assertThatThrownBy(() -> new Shards("fp", 0, false)).hasMessageContaining("between 1 and 1024");
        assertThatThrownBy(() -> new Shards("fp", 1025, false)).hasMessageContaining("between 1 and 1024");
    }
}
