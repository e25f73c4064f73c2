package dev.featurepipe.mongo;

import static org.assertj.core.api.Assertions.assertThat;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.SequencedEvent;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AppliedNumbersTest {
    private static SequencedEvent one(long sequence) {
        return new SequencedEvent(new Event("e" + sequence, "order", "u1", 1, Map.of()), sequence, false);
    }

    private static List<SequencedEvent> numbered(long... sequences) {
        return Arrays.stream(sequences).mapToObj(AppliedNumbersTest::one).toList();
    }

    @Test
    void numbersInARowFoldIntoTheHighestAndOnesAfterAGapWaitAbove() {
        AppliedNumbers at10 = new AppliedNumbers(3, 10, List.of(), true);

        AppliedNumbers after = at10.with(numbered(11, 12, 14), 100).numbers();

        assertThat(after).isEqualTo(new AppliedNumbers(4, 12, List.of(14L), true));
        assertThat(after.holds(9)).isTrue();
        assertThat(after.holds(13)).isFalse();
        assertThat(after.holds(14)).isTrue();
        assertThat(after.with(numbered(13), 100).numbers()).as("the gap closes")
                .isEqualTo(new AppliedNumbers(5, 14, List.of(), true));
    }

    @Test
    void aNumberThatStartsANumberingSettlesEveryNumberBelowIt() {
        AppliedNumbers withGap = new AppliedNumbers(1, 10, List.of(12L), true);
        SequencedEvent starts = new SequencedEvent(one(5_000).event(), 5_000, true);

        assertThat(withGap.with(List.of(starts, one(5_001)), 100).numbers())
                .isEqualTo(new AppliedNumbers(2, 5_001, List.of(), true));
    }

    @Test
    void aNewDocumentWaitsForItsFirstNumberButOneFromBeforeNumbersHoldsAllBelowWhatItSeesFirst() {
        assertThat(AppliedNumbers.NONE.with(numbered(57, 58), 100).numbers())
                .isEqualTo(new AppliedNumbers(1, 0, List.of(57L, 58L), true));
        assertThat(new AppliedNumbers(0, 0, List.of(), true).with(numbered(57, 58), 100).numbers())
                .isEqualTo(new AppliedNumbers(1, 58, List.of(), true));
    }

    @Test
    void moreThanTheBoundAboveAGapGivesTheGapUp() {
        AppliedNumbers at10 = new AppliedNumbers(1, 10, List.of(), true);

        AppliedNumbers.Next within = at10.with(numbered(12, 13, 14), 3);
        AppliedNumbers.Next beyond = within.numbers().with(numbered(16, 18), 3);

        assertThat(within.givenUp()).isZero();
        assertThat(beyond.givenUp()).as("11 given up; then 2 wait, above 15").isEqualTo(1);
        assertThat(beyond.numbers()).isEqualTo(new AppliedNumbers(3, 14, List.of(16L, 18L), true));
        assertThat(beyond.numbers().with(numbered(19, 20), 1).givenUp()).as("15, then 17").isEqualTo(2);
    }
}
