package dev.featurepipe.consumer;

import dev.featurepipe.core.StoreUnavailableException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A consumer group's log in memory, for one consumer: entries are pending from their read until acknowledged,
 * each re-read counts a delivery, as Redis Streams do. {@link #failReads} makes the next reads fail as an
 * unavailable source. Thread-safe: the test thread appends and inspects while the consumer's thread reads.
 */
final class InMemoryEventSource implements EventSource {
    private final List<Entry> log = new ArrayList<>();
    private final Map<String, Long> pending = new LinkedHashMap<>(); // id -> deliveries
    private final Map<String, Long> failures = new HashMap<>(); // id -> failed attempts counted by the consumer
    private final List<DeadLetter> deadLetters = new ArrayList<>();
    private final List<String> acknowledged = new ArrayList<>();
    private final AtomicInteger failingReads = new AtomicInteger();
    private int next; // index of the first entry no consumer read

    synchronized String append(String... payloads) {
        String id = (log.size() + 1) + "-0";
        log.add(new Entry(id, List.of(payloads)));
        notifyAll();
        return id;
    }

    /** Makes the next {@code n} reads throw {@link StoreUnavailableException}. */
    void failReads(int n) {
        failingReads.set(n);
    }

    @Override
    public synchronized List<Entry> read(int entries, Duration block) {
        failIfAsked();
        if (next == log.size() && !block.isZero()) {
            try {
                wait(block.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        List<Entry> read = new ArrayList<>();
        while (next < log.size() && read.size() < entries) {
            Entry e = log.get(next++);
            pending.put(e.id(), 1L);
            read.add(e);
        }
        return read;
    }

    @Override
    public synchronized List<Entry> readOwnPending(int entries) {
        failIfAsked();
        List<Entry> read = new ArrayList<>();
        for (Entry e : log) {
            if (pending.containsKey(e.id()) && read.size() < entries) {
                pending.merge(e.id(), 1L, Long::sum);
                read.add(e);
            }
        }
        return read;
    }

    @Override
    public List<Entry> claim(int entries, Duration minIdle) {
        return List.of(); // one consumer: nobody else's entries to take over
    }

    @Override
    public synchronized Map<String, Long> failures(List<Entry> entries) {
        Map<String, Long> counts = new HashMap<>();
        entries.forEach(e -> counts.put(e.id(), failures.getOrDefault(e.id(), 0L)));
        return counts;
    }

    @Override
    public synchronized void countFailure(List<String> ids) {
        ids.forEach(id -> failures.merge(id, 1L, Long::sum));
    }

    @Override
    public synchronized void acknowledge(List<String> ids, List<String> failed) {
        for (String id : ids) {
            if (pending.remove(id) != null) {
                acknowledged.add(id);
            }
        }
        failed.forEach(failures::remove);
    }

    @Override
    public synchronized long deadLetter(DeadLetter letter) {
        deadLetters.add(letter);
        return 0;
    }

    @Override
    public String describe() {
        return "the in-memory log";
    }

    @Override
    public String name() {
        return "memory";
    }

    synchronized List<DeadLetter> deadLetters() {
        return List.copyOf(deadLetters);
    }

    synchronized List<String> acknowledged() {
        return List.copyOf(acknowledged);
    }

    synchronized Map<String, Long> failureCounts() {
        return Map.copyOf(failures);
    }

    synchronized int pendingCount() {
        return pending.size();
    }

    private void failIfAsked() {
        if (failingReads.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new StoreUnavailableException("the in-memory log is down");
        }
    }
}
