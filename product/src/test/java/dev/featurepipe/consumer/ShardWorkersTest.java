package dev.featurepipe.consumer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ShardWorkersTest {
    @Test
    void theLiveWorkersSplitTheShardsRoundRobinEachShardToExactlyOne() {
        for (int workers = 1; workers <= 6; workers++) {
            List<String> live = new ArrayList<>();
            for (int w = workers; w > 0; w--) {
                live.add("worker-" + w); // in no particular order
            }
            List<Integer> all = new ArrayList<>();
            for (String w : live) {
                List<Integer> mine = ShardWorkers.assigned(live, w, 16);
                assertThat(mine.size()).as(w + " of " + workers).isBetween(16 / workers, (16 + workers - 1) / workers);
                all.addAll(mine);
            }
            assertThat(all).containsExactlyInAnyOrderElementsOf(range(16));
        }
        assertThat(ShardWorkers.assigned(List.of("a", "b"), "c", 4)).as("not among the live").isEmpty();
        assertThat(ShardWorkers.assigned(List.of("b", "a"), "a", 4)).containsExactly(0, 2);
    }

    private static List<Integer> range(int n) {
        List<Integer> r = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            r.add(i);
        }
        return r;
    }
}
