package dev.featurepipe.consumer;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Where one consumer of a group takes its entries from: an append-only log whose entries stay pending on the
 * consumer that read them until acknowledged. Failures are thrown as featurepipe's exceptions, sorted by
 * {@link ErrorPolicy} (a source that cannot be reached throws {@link dev.featurepipe.core.StoreUnavailableException}).
 */
public interface EventSource {

    /** An entry of the log: its id and the encoded events it holds, in order. */
    record Entry(String id, List<String> payloads) {
    }

    /** What goes to the dead-letter place: the position, the encoded event(s), why, and the group that gave up. */
    record DeadLetter(String position, String payload, String reason, String group) {
    }

    /** Up to {@code entries} entries no consumer of the group has read, waiting up to {@code block} for the first. */
    List<Entry> read(int entries, Duration block);

    /** Up to {@code entries} of the entries this consumer read and has not acknowledged, oldest first. */
    List<Entry> readOwnPending(int entries);

    /**
     * Up to {@code entries} entries that other consumers left pending for at least {@code minIdle}, now this
     * consumer's; successive calls go through the whole log and start again.
     */
    List<Entry> claim(int entries, Duration minIdle);

    /**
     * How many attempts at each of these entries failed ({@link #countFailure}), by id; entries that never failed
     * may be left out. Kept beside the log, so the count survives the consumer and goes to whoever claims the entry.
     */
    Map<String, Long> failures(List<Entry> entries);

    /** Counts one more failed attempt at each of these entries. */
    void countFailure(List<String> ids);

    /** Acknowledges the entries; the failures counted for those in {@code failed} are forgotten with them. */
    void acknowledge(List<String> ids, List<String> failed);

    /** Keeps the letter; returns how many older letters were dropped to stay within the place's bound. */
    long deadLetter(DeadLetter letter);

    /** The log and the consumer, for log lines. */
    String describe();

    /** The log's name, for metrics and thread names. */
    String name();

    /** Releases what the source holds open; the consumer calls it once it stopped. */
    default void close() {
    }
}
