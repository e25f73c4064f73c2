package dev.featurepipe.mongo;

import dev.featurepipe.core.SequencedEvent;
import java.util.List;
import java.util.TreeSet;

/**
 * The sequence numbers of the events a profile holds: every number up to {@code upTo}, and the numbers in
 * {@code above} (applied out of order, while a consumer still held a lower one). {@code version} is the document's
 * version, on which each update is conditional, so two consumers never apply one number twice.
 *
 * @param exists whether the document exists (a document from before numbers were kept has version 0)
 */
record AppliedNumbers(long version, long upTo, List<Long> above, boolean exists) {
    static final AppliedNumbers NONE = new AppliedNumbers(0, 0, List.of(), false);

    AppliedNumbers {
        above = List.copyOf(above);
    }

    boolean holds(long sequence) {
        return sequence <= upTo || above.contains(sequence);
    }

    /** The numbers after applying {@code events} (none held yet), and how many gaps of missing numbers were given up. */
    record Next(AppliedNumbers numbers, int givenUp) {
    }

    /**
     * Adds the events' numbers. A number that starts its entity's numbering settles every number below it; a document
     * kept before numbers were (it exists at version 0) holds everything below the first number it sees. When more
     * than {@code maxAbove} numbers wait above a missing one, the lowest gap of missing numbers is given up, and the
     * next, until no more than that many wait: their events are taken as lost, rather than the document growing
     * without bound.
     */
    Next with(List<SequencedEvent> events, int maxAbove) {
        long low = upTo;
        TreeSet<Long> held = new TreeSet<>(above);
        for (SequencedEvent e : events) {
            held.add(e.sequence());
            if (e.startsSequence()) {
                low = Math.max(low, e.sequence() - 1);
            }
        }
        if (version == 0 && exists) {
            low = Math.max(low, held.first() - 1);
        }
        int givenUp = 0;
        while (true) {
            held.headSet(low, true).clear();
            while (!held.isEmpty() && held.first() == low + 1) {
                low = held.pollFirst();
            }
            if (held.size() <= maxAbove) {
                return new Next(new AppliedNumbers(version + 1, low, List.copyOf(held), true), givenUp);
            }
            givenUp++;
            low = held.first() - 1;
        }
    }
}
