package dev.featurepipe.chaos;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The stores compared with the ground truth: per account, the events a store is missing (lost) and the ones it
 * holds more often than they were accepted (duplicated), the larger over the stores, summed over accounts.
 *
 * @param lost       accepted events missing from a store
 * @param duplicated events counted more often than accepted (an event in ClickHouse that was never accepted counts)
 * @param problems   other differences: a wrong largest sequence number, a dead letter that should not be there
 *                   or one missing
 * @param examples   the first differences, for the report
 */
record Verdict(long lost, long duplicated, long problems, List<String> examples) {
    /** What one store holds of one account. */
    record Held(String store, long lost, long duplicated) {
    }

    static final class Builder {
        private long lost;
        private long duplicated;
        private long problems;
        private final List<String> examples = new ArrayList<>();

        /** One account: what each store holds of it. */
        void account(String account, List<Held> stores) {
            long l = stores.stream().mapToLong(Held::lost).max().orElse(0);
            long d = stores.stream().mapToLong(Held::duplicated).max().orElse(0);
            lost += l;
            duplicated += d;
            for (Held h : stores) {
                if ((h.lost() > 0 || h.duplicated() > 0) && examples.size() < 10) {
                    examples.add(account + " in " + h.store() + ": " + h.lost() + " lost, " + h.duplicated() + " duplicated");
                }
            }
        }

        void problem(String what) {
            problems++;
            if (examples.size() < 10) {
                examples.add(what);
            }
        }

        Verdict build() {
            return new Verdict(lost, duplicated, problems, List.copyOf(examples));
        }
    }

    /** A store that holds a set of an account's sequence numbers (ClickHouse's distinct event ids). */
    static Held ofSet(String store, Set<Long> accepted, Set<Long> held) {
        long lost = accepted.stream().filter(s -> !held.contains(s)).count();
        long extra = held.stream().filter(s -> !accepted.contains(s)).count();
        return new Held(store, lost, extra);
    }

    /**
     * A store that holds an account's count of events and their sum of sequence numbers: a count below or above
     * the accepted one is that many lost or duplicated; the right count with the wrong sum is one event in place
     * of another.
     */
    static Held ofCount(String store, Set<Long> accepted, long count, long sum) {
        long expected = accepted.size();
        long expectedSum = accepted.stream().mapToLong(Long::longValue).sum();
        if (count == expected && sum != expectedSum) {
            return new Held(store, 1, 1);
        }
        return new Held(store, Math.max(0, expected - count), Math.max(0, count - expected));
    }
}
