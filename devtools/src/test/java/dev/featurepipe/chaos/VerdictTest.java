package dev.featurepipe.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** How the chaos run counts what a store holds against the accepted sequence numbers. */
class VerdictTest {
    private static final Set<Long> ACCEPTED = Set.of(1L, 2L, 3L, 4L);

    @Test
    void aMissingIdIsLostAndAnIdNeverAcceptedIsDuplicated() {
        assertThat(Verdict.ofSet("ClickHouse", ACCEPTED, Set.of(1L, 2L, 4L, 9L)))
                .isEqualTo(new Verdict.Held("ClickHouse", 1, 1));
        assertThat(Verdict.ofSet("ClickHouse", ACCEPTED, ACCEPTED)).isEqualTo(new Verdict.Held("ClickHouse", 0, 0));
    }

    @Test
    void aCountBelowOrAboveIsThatManyLostOrDuplicated() {
        assertThat(Verdict.ofCount("online", ACCEPTED, 2, 3)).isEqualTo(new Verdict.Held("online", 2, 0));
        assertThat(Verdict.ofCount("online", ACCEPTED, 5, 13)).isEqualTo(new Verdict.Held("online", 0, 1));
        assertThat(Verdict.ofCount("online", ACCEPTED, 4, 10)).isEqualTo(new Verdict.Held("online", 0, 0));
    }

    @Test
    void theRightCountWithTheWrongSumIsOneEventInPlaceOfAnother() {
        // 1, 2, 3, 3: event 4 lost, event 3 counted twice
        assertThat(Verdict.ofCount("profile", ACCEPTED, 4, 9)).isEqualTo(new Verdict.Held("profile", 1, 1));
    }

    @Test
    void anAccountCountsWhatItsWorstStoreMissesOrDoubles() {
        Verdict.Builder b = new Verdict.Builder();
        b.account("a", List.of(new Verdict.Held("ClickHouse", 2, 0), new Verdict.Held("online", 1, 3)));
        b.account("b", List.of(new Verdict.Held("ClickHouse", 0, 0), new Verdict.Held("profile", 0, 1)));
        b.problem("a dead letter that should not be there");
        Verdict v = b.build();
        assertThat(v.lost()).isEqualTo(2);
        assertThat(v.duplicated()).isEqualTo(4);
        assertThat(v.problems()).isEqualTo(1);
        assertThat(v.examples()).contains("a in online: 1 lost, 3 duplicated", "a dead letter that should not be there");
    }
}
