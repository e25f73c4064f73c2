package dev.featurepipe.consumer;

import dev.featurepipe.core.EventCodec;
import dev.featurepipe.core.LoggedEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One consumer of a consumer group. Reads batches (about {@code maxBatch} events, waiting at most {@code maxWait}
 * to fill one), hands them to a {@link BatchHandler} and acknowledges them only once it has written them: when
 * {@code handle} returned, or, for a batch it started ({@link BatchHandler#start}), once the batch finished; up to
 * {@code ahead} started batches finish while the next ones are read. An entry holds one or more events; reads ask
 * for as many entries as the last read's events per entry suggest, and never for more than ten batches' worth of
 * entries as full as ingest makes them ({@code entryEvents}), so a batch stays within memory.
 * <p>Every failure goes through {@link ErrorPolicy}:
 * <ul>
 * <li>retriable: the batch is retried with backoff, never skipped;</li>
 * <li>poison: the batch is split in halves until the events that fail alone are found; those go to the
 * dead-letter place with the reason, the others are written;</li>
 * <li>fatal: the consumer stops, acknowledges nothing more and reports why ({@link #failure}); an {@link Error}
 * also ends the thread with it, for the process's uncaught-exception handler.</li>
 * </ul>
 * On start, and after a failed read, it first re-reads its own pending entries, so a restart resumes where it
 * stopped. Every {@code claimIdle} it also claims entries that other consumers left pending that long, so a
 * consumer that died does not strand its entries.
 * <p>A fatal failure (or an {@link Error}) counts one failed attempt at each entry in hand, in the source, so the count
 * outlives the consumer; re-reading, claiming or retrying an entry counts nothing. A re-read batch holding an entry
 * that failed before is handled one entry at a time, so the next failure is counted on its culprit alone, and an
 * entry that failed {@code maxDeliveries} times goes to the dead-letter place instead of being tried again.
 */
public final class StreamConsumer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StreamConsumer.class);
    private static final Duration IDLE_BLOCK = Duration.ofMillis(500);
    /** Longest blocking read, well below the client's command timeout. */
    private static final Duration MAX_BLOCK = Duration.ofSeconds(2);
    private static final Duration FIRST_BACKOFF = Duration.ofMillis(100);

    /**
     * How one consumer batches, when it takes over or gives up entries, how many batches may still be finishing
     * ({@link BatchHandler#start}) while it reads and starts the next one, and the longest pause between retries.
     */
    public record Options(String group, String consumer, int maxBatch, Duration maxWait, Duration claimIdle,
                          int maxDeliveries, int entryEvents, int ahead, Duration maxBackoff) {
    }

    /** A started batch: its entries, events and their payloads (for the dead-letter place), and its rest. */
    private record Started(List<EventSource.Entry> entries, List<LoggedEvent> events, List<String> payloads,
                           Finish finish) {
    }

    /** Ends the loop: a failure the error policy calls fatal. */
    private static final class Halt extends RuntimeException {
        Halt(String doing, Throwable cause) {
            super(doing + " failed: " + cause, cause);
        }
    }

    private final EventSource source;
    private final EventCodec codec;
    private final Options options;
    private final BatchHandler handler;
    private final MeterRegistry metrics;
    private final Counter processed;
    private final Counter deadLetters;
    private final Counter claimed;
    private final DistributionSummary batchEvents;
    private final AtomicLong newestEventTime = new AtomicLong(Long.MIN_VALUE); // ms, of the events acknowledged
    private final Thread thread;
    private final ArrayDeque<Started> started = new ArrayDeque<>();
    /** Ids of entries in hand that failed before: their counts are forgotten when they are acknowledged. */
    private final Set<String> failedBefore = new HashSet<>();
    /** The entries being handled outside {@link #started}, for the failure count. */
    private List<EventSource.Entry> inHand = List.of();
    private volatile boolean running = true;
    /** Set by {@link #drain}: take no more entries, write and acknowledge those in hand, then end. */
    private volatile boolean draining;
    private volatile String failure;
    private double eventsPerEntry; // of the last read; at first, as full as ingest makes entries

    public StreamConsumer(EventSource source, EventCodec codec, Options options, BatchHandler handler,
                          MeterRegistry metrics) {
        this.source = source;
        this.codec = codec;
        this.options = options;
        this.handler = handler;
        this.metrics = metrics;
        this.eventsPerEntry = options.entryEvents();
        this.processed = metrics.counter("featurepipe.consumer.events", "group", options.group());
        this.deadLetters = metrics.counter("featurepipe.consumer.dead.letters", "group", options.group());
        this.claimed = metrics.counter("featurepipe.consumer.claimed", "group", options.group());
        this.batchEvents = DistributionSummary.builder("featurepipe.consumer.batch.events").tag("group", options.group())
                .description("events per acknowledged batch").register(metrics);
        Gauge.builder("featurepipe.consumer.event.age.seconds", newestEventTime, StreamConsumer::secondsSince)
                .tag("group", options.group()).tag("stream", source.name())
                .description("now minus the newest event time the group acknowledged (grows while no event comes)")
                .register(metrics);
        this.thread = new Thread(this::run, "fp-consumer-" + options.group() + "-" + source.name());
    }

    public StreamConsumer start() {
        thread.start();
        return this;
    }

    /** Why the consumer stopped on its own (a fatal failure), or empty while it runs or after {@link #close}. */
    public Optional<String> failure() {
        return Optional.ofNullable(failure);
    }

    public String group() {
        return options.group();
    }

    private void run() {
        log.info("consumer {}/{}: started on {}", options.group(), options.consumer(), source.describe());
        try {
            loop();
            acknowledgeFinished();
            log.info("consumer {}/{}: stopped", options.group(), options.consumer());
        } catch (Halt h) {
            stopFailed(h.getMessage(), h.getCause());
        } catch (Error e) {
            countFailure();
            stopFailed("an error ended the consumer: " + e, e);
            throw e; // for the uncaught-exception handler, which ends the process
        }
    }

    private void stopFailed(String reason, Throwable cause) {
        failure = reason;
        running = false;
        metrics.counter("featurepipe.consumer.fatal", "group", options.group()).increment();
        log.error("consumer {}/{}: stopped, acknowledging nothing more; its entries stay pending for a restart: {}",
                options.group(), options.consumer(), reason, cause);
    }

    private void loop() {
        boolean ownPending = true;
        long nextClaim = System.nanoTime() + options.claimIdle().toNanos();
        List<EventSource.Entry> batch = new ArrayList<>();
        int batchEvents = 0;
        long deadline = Long.MAX_VALUE; // System.nanoTime() by which the batch is processed, full or not
        Duration backoff = firstBackoff();
        while (running) {
            try {
                if (draining) {
                    processUntilDone(batch, false);
                    finishStarted();
                    return;
                }
                if (ownPending) {
                    finishStarted(); // they are pending too: finished first, so the re-read does not apply them twice at once
                    List<EventSource.Entry> pending = counted(source.readOwnPending(entriesFor(options.maxBatch())));
                    ownPending = !pending.isEmpty();
                    processUntilDone(pending, true);
                    continue;
                }
                if (batch.isEmpty() && System.nanoTime() - nextClaim >= 0) {
                    finishStarted();
                    processUntilDone(claim(), true);
                    nextClaim = System.nanoTime() + options.claimIdle().toNanos() / 2;
                    continue;
                }
                long wait = batch.isEmpty() ? IDLE_BLOCK.toMillis() : Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
                // while started batches finish, wait only briefly for more, so they are acknowledged soon after
                List<EventSource.Entry> read = counted(source.read(entriesFor(options.maxBatch() - batchEvents),
                        Duration.ofMillis(started.isEmpty() ? Math.min(wait, MAX_BLOCK.toMillis()) : 1)));
                while (!started.isEmpty() && started.peek().finish().isDone()) {
                    finishOldest();
                }
                if (batch.isEmpty() && !read.isEmpty()) {
                    deadline = System.nanoTime() + options.maxWait().toNanos();
                }
                batch.addAll(read);
                batchEvents += read.stream().mapToInt(e -> e.payloads().size()).sum();
                if (!batch.isEmpty() && (batchEvents >= options.maxBatch() || System.nanoTime() - deadline >= 0)) {
                    processUntilDone(batch, false);
                    batch.clear();
                    batchEvents = 0;
                }
                backoff = firstBackoff();
            } catch (Halt h) {
                throw h;
            } catch (RuntimeException e) {
                if (ErrorPolicy.of(e) != ErrorPolicy.Outcome.RETRIABLE) {
                    throw new Halt("reading " + source.describe(), e);
                }
                failed(ErrorPolicy.Outcome.RETRIABLE);
                log.warn("consumer {}/{}: reading {} failed, re-reading its pending entries in {} ms: {}", options.group(),
                        options.consumer(), source.describe(), backoff.toMillis(), e.getMessage());
                // a read whose reply was lost leaves entries pending on this consumer: read them again
                ownPending = true;
                abandonStarted();
                batch.clear();
                batchEvents = 0;
                pause(backoff);
                backoff = longer(backoff);
            }
        }
    }

    /** How many entries to read for about {@code events} more events. */
    private int entriesFor(int events) {
        int cap = Math.max(1, 10 * options.maxBatch() / options.entryEvents());
        return (int) Math.max(1, Math.min(cap, Math.ceil(events / eventsPerEntry)));
    }

    /** Notes how many events an entry of this read held on average. */
    private List<EventSource.Entry> counted(List<EventSource.Entry> entries) {
        if (!entries.isEmpty()) {
            eventsPerEntry = (double) entries.stream().mapToInt(e -> e.payloads().size()).sum() / entries.size();
        }
        return entries;
    }

    /** Takes over entries other consumers left pending for longer than claimIdle. */
    private List<EventSource.Entry> claim() {
        List<EventSource.Entry> entries = counted(source.claim(entriesFor(options.maxBatch()), options.claimIdle()));
        if (!entries.isEmpty()) {
            claimed.increment(entries.size());
            log.info("consumer {}/{}: claimed {} entries idle for over {} s", options.group(), options.consumer(),
                    entries.size(), options.claimIdle().toSeconds());
        }
        return entries;
    }

    /**
     * Hands the batch to the handler until it is written, then acknowledges it. A batch read for the first time is
     * only started when the handler can finish batches later ({@code ahead} > 0): it is acknowledged once
     * finished, and the consumer goes on meanwhile.
     *
     * @param reread whether these entries were delivered before (own pending or claimed)
     */
    private void processUntilDone(List<EventSource.Entry> batch, boolean reread) {
        if (batch.isEmpty()) {
            return;
        }
        Map<String, Long> failures = reread ? source.failures(batch) : Map.of();
        failures.forEach((id, n) -> {
            if (n > 0) {
                failedBefore.add(id);
            }
        });
        if (failures.values().stream().anyMatch(n -> n > 0)) {
            finishStarted();
            for (EventSource.Entry entry : batch) { // so that a failure is counted on its culprit alone
                processRetrying(decoded(List.of(entry), failures));
            }
            return;
        }
        Started decoded = decoded(batch, failures);
        if (reread || options.ahead() == 0 || decoded.events().isEmpty()) {
            finishStarted();
            processRetrying(decoded);
            return;
        }
        Finish finish;
        inHand = decoded.entries();
        try {
            finish = handler.start(decoded.events());
        } catch (RuntimeException e) {
            ErrorPolicy.Outcome outcome = outcomeOf("starting a batch of " + decoded.events().size() + " events", e);
            log.warn("consumer {}/{}: a batch of {} events failed ({}), handling it again: {}", options.group(),
                    options.consumer(), decoded.events().size(), outcome, e.getMessage());
            finishStarted();
            processRetrying(decoded);
            return;
        }
        inHand = List.of();
        started.add(new Started(decoded.entries(), decoded.events(), decoded.payloads(), finish));
        while (started.size() > options.ahead()) {
            finishOldest();
        }
    }

    /**
     * The entries' events, not yet handled; entries that failed too often and lines that are no events go to the
     * dead-letter place (their entries are acknowledged with the rest).
     */
    private Started decoded(List<EventSource.Entry> batch, Map<String, Long> failures) {
        List<LoggedEvent> events = new ArrayList<>();
        List<String> payloads = new ArrayList<>(); // of events, for the dead-letter place
        for (EventSource.Entry entry : batch) {
            long failed = failures.getOrDefault(entry.id(), 0L);
            if (failed >= options.maxDeliveries()) {
                deadLetter(entry.id(), String.join("\n", entry.payloads()), "failed " + failed
                        + " times (FP_MAX_DELIVERIES is " + options.maxDeliveries() + "): the consumers stopped or died on it");
                continue;
            }
            for (int i = 0; i < entry.payloads().size(); i++) {
                String position = entry.id() + "/" + i;
                String payload = entry.payloads().get(i);
                try {
                    events.add(new LoggedEvent(position, codec.decode(payload)));
                    payloads.add(payload);
                } catch (EventCodec.MalformedEventException e) {
                    failed(ErrorPolicy.Outcome.POISON);
                    deadLetter(position, payload, e.getMessage());
                }
            }
        }
        return new Started(List.copyOf(batch), events, payloads, Finish.DONE);
    }

    /** Waits for every started batch, acknowledging each that finished, in order. */
    private void finishStarted() {
        while (!started.isEmpty()) {
            finishOldest();
        }
    }

    /**
     * Acknowledges the oldest started batch once it finished. If it failed, every later started batch is waited
     * for too, and all of them are handled again, in order, as {@link #processRetrying} does.
     */
    private void finishOldest() {
        Started oldest = started.peek();
        try {
            oldest.finish().await();
        } catch (RuntimeException e) {
            ErrorPolicy.Outcome outcome = outcomeOf("finishing a batch of " + oldest.events().size() + " events", e);
            log.warn("consumer {}/{}: finishing a batch of {} events failed ({}), handling it and the {} after it again: {}",
                    options.group(), options.consumer(), oldest.events().size(), outcome, started.size() - 1, e.getMessage());
            List<Started> again = new ArrayList<>(started);
            abandonStarted();
            again.forEach(this::processRetrying);
            return;
        }
        started.poll();
        acknowledge(oldest);
    }

    /** On stop: acknowledges the started batches that finish, in order, up to the first that does not. */
    private void acknowledgeFinished() {
        try {
            for (Started s = started.poll(); s != null; s = started.poll()) {
                s.finish().await();
                acknowledge(s);
            }
        } catch (RuntimeException e) {
            log.info("consumer {}/{}: stopping with {} started batches unacknowledged; they are re-read on restart: {}",
                    options.group(), options.consumer(), started.size() + 1, e.getMessage());
        }
        started.clear();
    }

    /** Waits for every started batch and forgets them, unacknowledged (they are handled again). */
    private void abandonStarted() {
        for (Started s : started) {
            try {
                s.finish().await();
            } catch (RuntimeException e) {
                // handled again after this, when the error policy lets it
            }
        }
        started.clear();
    }

    /**
     * Handles the batch until it is written, its poison events dead-lettered, then acknowledges it (unless the
     * consumer stopped meanwhile).
     */
    private void processRetrying(Started batch) {
        inHand = batch.entries();
        if (!batch.events().isEmpty()) {
            handleOrSplit(batch.events(), batch.payloads());
        }
        handler.resume(); // the last attempt may have failed: the next started batch must not wait on it
        if (running) {
            acknowledge(batch);
        } else {
            log.info("consumer {}/{}: stopping with {} entries unacknowledged; they are re-read on restart",
                    options.group(), options.consumer(), batch.entries().size());
        }
    }

    /**
     * Writes the events, retrying while a store is unavailable. When they are poison, each half is handled the same
     * way, so that only the events that fail alone are dead-lettered, in about log2(n) rounds per such event.
     */
    private void handleOrSplit(List<LoggedEvent> events, List<String> payloads) {
        Optional<RuntimeException> poison = handleRetrying(events);
        if (poison.isEmpty()) {
            return;
        }
        if (events.size() == 1) {
            deadLetter(events.get(0).position(), payloads.get(0), poison.get().getMessage());
            return;
        }
        int half = events.size() / 2;
        handleOrSplit(events.subList(0, half), payloads.subList(0, half));
        handleOrSplit(events.subList(half, events.size()), payloads.subList(half, events.size()));
    }

    /** @return empty when written (or stopping), else why the events are poison */
    private Optional<RuntimeException> handleRetrying(List<LoggedEvent> events) {
        Duration backoff = firstBackoff();
        while (running) {
            try {
                handler.resume();
                handler.start(events).await();
                return Optional.empty();
            } catch (RuntimeException e) {
                if (outcomeOf("writing " + events.size() + " events", e) == ErrorPolicy.Outcome.POISON) {
                    log.debug("consumer {}/{}: {} event(s) cannot be applied: {}", options.group(), options.consumer(),
                            events.size(), e.getMessage());
                    return Optional.of(e);
                }
                log.warn("consumer {}/{}: batch of {} events failed, retrying in {} ms: {}", options.group(),
                        options.consumer(), events.size(), backoff.toMillis(), e.getMessage());
                pause(backoff);
                backoff = longer(backoff);
            }
        }
        return Optional.empty(); // stopping: nothing is acknowledged
    }

    /** The failure's outcome, counted; a fatal one ends the loop here. */
    private ErrorPolicy.Outcome outcomeOf(String doing, RuntimeException e) {
        ErrorPolicy.Outcome outcome = ErrorPolicy.of(e);
        failed(outcome);
        if (outcome == ErrorPolicy.Outcome.FATAL) {
            countFailure();
            throw new Halt(doing, e);
        }
        return outcome;
    }

    private void failed(ErrorPolicy.Outcome outcome) {
        metrics.counter("featurepipe.consumer.failures", "group", options.group(),
                "outcome", outcome.name().toLowerCase(Locale.ROOT)).increment();
    }

    private void acknowledge(Started batch) {
        inHand = List.of();
        if (!batch.entries().isEmpty()) {
            List<String> ids = batch.entries().stream().map(EventSource.Entry::id).toList();
            List<String> failed = ids.stream().filter(failedBefore::contains).toList();
            source.acknowledge(ids, failed);
            failed.forEach(failedBefore::remove);
            processed.increment(batch.events().size());
            batchEvents.record(batch.events().size());
            batch.events().stream().mapToLong(e -> e.event().ts()).max()
                    .ifPresent(ts -> newestEventTime.accumulateAndGet(ts, Math::max));
        }
    }

    private static double secondsSince(AtomicLong millis) {
        long ts = millis.get();
        return ts == Long.MIN_VALUE ? Double.NaN : (System.currentTimeMillis() - ts) / 1000.0;
    }

    /** Counts a failed attempt at every entry in hand: the one being handled and those started. */
    private void countFailure() {
        List<String> ids = new ArrayList<>();
        inHand.forEach(e -> ids.add(e.id()));
        started.forEach(s -> s.entries().forEach(e -> ids.add(e.id())));
        if (ids.isEmpty()) {
            return;
        }
        try {
            source.countFailure(ids);
        } catch (RuntimeException e) {
            log.warn("consumer {}/{}: the failure at {} entries could not be counted: {}", options.group(),
                    options.consumer(), ids.size(), e.getMessage());
        }
    }

    /** @param position an event's position, or an entry's id when the whole entry goes */
    private void deadLetter(String position, String payload, String reason) {
        deadLetters.increment();
        log.warn("consumer {}/{}: {} moved to the dead letters: {}", options.group(), options.consumer(), position, reason);
        long dropped = source.deadLetter(new EventSource.DeadLetter(position, payload, reason, options.group()));
        if (dropped > 0) {
            metrics.counter("featurepipe.consumer.dead.letters.dropped", "group", options.group()).increment(dropped);
        }
    }

    private Duration firstBackoff() {
        return FIRST_BACKOFF.compareTo(options.maxBackoff()) > 0 ? options.maxBackoff() : FIRST_BACKOFF;
    }

    private Duration longer(Duration backoff) {
        Duration doubled = backoff.multipliedBy(2);
        return doubled.compareTo(options.maxBackoff()) > 0 ? options.maxBackoff() : doubled;
    }

    private void pause(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        }
    }

    /**
     * Begins a graceful stop: the consumer reads nothing more, writes and acknowledges the entries it holds (the
     * batch it was filling, the batches started), and ends. {@link #close} stops it for good, and what it had not
     * acknowledged then is re-read on restart.
     */
    public void drain() {
        draining = true;
    }

    /** Waits up to {@code timeout} for the consumer's thread to end; returns whether it did. */
    public boolean awaitEnd(Duration timeout) {
        try {
            thread.join(Math.max(1, timeout.toMillis()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !thread.isAlive();
    }

    /** Stops the loop, and then closes the source and, if it holds resources of its own, the handler. */
    @Override
    public void close() {
        running = false;
        try {
            thread.join(Duration.ofSeconds(15).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!thread.isAlive()) { // a loop still blocked in a read keeps its connection until it returns
            source.close();
        }
        if (handler instanceof AutoCloseable resources) {
            try {
                resources.close();
            } catch (Exception e) {
                log.warn("consumer {}/{}: closing its handler failed: {}", options.group(), options.consumer(), e.toString());
            }
        }
    }
}
