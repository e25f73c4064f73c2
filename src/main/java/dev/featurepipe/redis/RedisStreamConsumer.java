package dev.featurepipe.redis;

import dev.featurepipe.core.EventCodec;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.StoreUnavailableException;
import io.lettuce.core.Consumer;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.RedisBusyException;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XAutoClaimArgs;
import io.lettuce.core.XGroupCreateArgs;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.models.stream.ClaimedMessages;
import io.lettuce.core.models.stream.PendingMessage;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One consumer of a consumer group on the event stream. Reads batches (about {@code maxBatch} events, waiting at
 * most {@code maxWait} to fill one), hands them to a {@link BatchHandler} and acknowledges them only once it has
 * written them: when {@code handle} returned, or, for a batch it started ({@link BatchHandler#start}), once the
 * batch finished; up to {@code ahead} started batches finish while the next ones are read. An entry holds one or
 * more events, one per line (see {@link RedisEventLog}); reads ask for as many entries as the last read's events
 * per entry suggest, and never for more than ten batches' worth of entries
 * as full as ingest makes them ({@code entryEvents}), so a batch stays within memory.
 * <ul>
 * <li>While a store is unavailable the batch is retried with backoff, never skipped. An entry that is not an
 * event of the registry, or an event the handler rejects for any other reason, goes to the dead-letter stream
 * with the reason, and the consumer goes on.</li>
 * <li>On start, and after a failed read, it first re-reads its own pending entries, so a restart resumes where it
 * stopped. Every {@code claimIdle} it also claims entries that other consumers left pending that long (XAUTOCLAIM):
 * a consumer that died does not strand its entries.</li>
 * <li>A re-read entry delivered more than {@code maxDeliveries} times (a consumer failed or died on it each time)
 * goes to the dead-letter stream instead of being tried again.</li>
 * </ul>
 */
public final class RedisStreamConsumer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RedisStreamConsumer.class);
    private static final Duration IDLE_BLOCK = Duration.ofMillis(500);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);
    /** Longest XREADGROUP BLOCK, well below the client's command timeout. */
    private static final Duration MAX_BLOCK = Duration.ofSeconds(2);

    /** Processes a batch; throwing makes the consumer retry (unavailable store) or dead-letter (anything else). */
    @FunctionalInterface
    public interface BatchHandler {
        void handle(List<LoggedEvent> batch);

        /**
         * Starts on the batch and returns what finishes it: a handler may leave part of its writes running while
         * the consumer goes on to the next batches. {@link Finish#await} throws what {@link #handle} would have.
         */
        default Finish start(List<LoggedEvent> batch) {
            handle(batch);
            return Finish.DONE;
        }

        /**
         * Called before each synchronous attempt at a batch (one handled again, or re-read), when no batch the
         * consumer started is unfinished: nothing should hold this one back for an earlier failure.
         */
        default void resume() {
        }
    }

    /** The rest of a started batch. */
    public interface Finish {
        Finish DONE = new Finish() {
            @Override
            public void await() {
            }

            @Override
            public boolean isDone() {
                return true;
            }
        };

        /** Waits until the batch is written; throws why it is not. */
        void await();

        /** Whether {@link #await} would return (or throw) at once. */
        boolean isDone();

        /** The rest that {@code done} completes; its failure is thrown as the exception the work threw. */
        static Finish of(CompletableFuture<?> done) {
            return new Finish() {
                @Override
                public void await() {
                    try {
                        done.join();
                    } catch (CompletionException e) {
                        if (e.getCause() instanceof RuntimeException r) {
                            throw r; // as thrown, so the consumer can tell an unavailable store from a rejection
                        }
                        throw e;
                    }
                }

                @Override
                public boolean isDone() {
                    return done.isDone();
                }
            };
        }
    }

    /**
     * Where one consumer reads, how it batches, when it takes over or gives up entries, and how many batches may
     * still be finishing ({@link BatchHandler#start}) while it reads and starts the next one.
     */
    public record Options(String stream, String group, String consumer, int maxBatch, Duration maxWait,
                          Duration claimIdle, int maxDeliveries, int entryEvents, int ahead) {
    }

    /** A started batch: its entries, events and their payloads (for the dead-letter stream), and its rest. */
    private record Started(List<Entry> entries, List<LoggedEvent> events, List<String> payloads, Finish finish) {
    }

    /** A stream entry with its events' encoded payloads. */
    private record Entry(String id, List<String> payloads) {
    }

    private final RedisConnections redis;
    private final EventCodec codec;
    private final Options options;
    private final BatchHandler handler;
    private final Counter processed;
    private final Counter failures;
    private final Counter deadLetters;
    private final Counter claimed;
    private final Thread thread;
    private final ArrayDeque<Started> started = new ArrayDeque<>();
    private volatile boolean running = true;
    private String claimCursor = "0-0";
    private double eventsPerEntry; // of the last read; at first, as full as ingest makes entries

    public RedisStreamConsumer(RedisConnections redis, EventCodec codec, Options options, BatchHandler handler,
                               MeterRegistry metrics) {
        this.redis = redis;
        this.codec = codec;
        this.options = options;
        this.handler = handler;
        this.eventsPerEntry = options.entryEvents();
        this.processed = metrics.counter("featurepipe.consumer.events", "group", options.group());
        this.failures = metrics.counter("featurepipe.consumer.failures", "group", options.group());
        this.deadLetters = metrics.counter("featurepipe.consumer.dead.letters", "group", options.group());
        this.claimed = metrics.counter("featurepipe.consumer.claimed", "group", options.group());
        ensureGroup(redis.shared().sync(), options.stream(), options.group());
        this.thread = new Thread(this::run, "fp-consumer-" + options.group());
    }

    /** Creates the group at the start of the stream (and the stream) unless it exists. */
    public static void ensureGroup(RedisCommands<String, String> redis, String stream, String group) {
        try {
            redis.xgroupCreate(XReadArgs.StreamOffset.from(stream, "0"), group, XGroupCreateArgs.Builder.mkstream());
        } catch (RedisBusyException e) {
            // BUSYGROUP: it exists already
        }
    }

    public RedisStreamConsumer start() {
        thread.start();
        return this;
    }

    private void run() {
        RedisCommands<String, String> reader = redis.dedicated().sync();
        Consumer<String> me = Consumer.from(options.group(), options.consumer());
        log.info("consumer {}/{}: started on stream {}", options.group(), options.consumer(), options.stream());
        boolean ownPending = true;
        long nextClaim = System.nanoTime() + options.claimIdle().toNanos();
        List<Entry> batch = new ArrayList<>();
        int batchEvents = 0;
        long deadline = Long.MAX_VALUE; // System.nanoTime() by which the batch is processed, full or not
        while (running) {
            try {
                if (ownPending) {
                    finishStarted(); // they are pending too: finished first, so the re-read does not apply them twice at once
                    List<Entry> pending = entries(reader.xreadgroup(me, XReadArgs.Builder.count(entriesFor(options.maxBatch())),
                            XReadArgs.StreamOffset.from(options.stream(), "0")));
                    ownPending = !pending.isEmpty();
                    processUntilDone(pending, true);
                    continue;
                }
                if (batch.isEmpty() && System.nanoTime() - nextClaim >= 0) {
                    finishStarted();
                    processUntilDone(claim(reader, me), true);
                    nextClaim = System.nanoTime() + options.claimIdle().toNanos() / 2;
                    continue;
                }
                long wait = batch.isEmpty() ? IDLE_BLOCK.toMillis() : Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
                // while started batches finish, wait only briefly for more, so they are acknowledged soon after
                List<Entry> read = entries(reader.xreadgroup(me, XReadArgs.Builder.count(entriesFor(options.maxBatch() - batchEvents))
                                .block(started.isEmpty() ? Math.min(wait, MAX_BLOCK.toMillis()) : 1),
                        XReadArgs.StreamOffset.lastConsumed(options.stream())));
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
            } catch (RuntimeException e) {
                failures.increment();
                log.warn("consumer {}/{}: reading stream {} failed, re-reading its pending entries: {}", options.group(),
                        options.consumer(), options.stream(), e.toString());
                // a read whose reply was lost leaves entries pending on this consumer: read them again
                ownPending = true;
                abandonStarted();
                batch.clear();
                batchEvents = 0;
                pause(Duration.ofSeconds(1));
            }
        }
        acknowledgeFinished();
        log.info("consumer {}/{}: stopped", options.group(), options.consumer());
    }

    /** How many entries to read for about {@code events} more events. */
    private int entriesFor(int events) {
        int cap = Math.max(1, 10 * options.maxBatch() / options.entryEvents());
        return (int) Math.max(1, Math.min(cap, Math.ceil(events / eventsPerEntry)));
    }

    /** Splits the entries into their events' payloads, and notes how many events an entry held on average. */
    private List<Entry> entries(List<StreamMessage<String, String>> messages) {
        List<Entry> entries = new ArrayList<>(messages.size());
        int events = 0;
        for (StreamMessage<String, String> m : messages) {
            List<String> payloads = List.of(m.getBody().getOrDefault("e", "").split("\n", -1));
            entries.add(new Entry(m.getId(), payloads));
            events += payloads.size();
        }
        if (!entries.isEmpty()) {
            eventsPerEntry = (double) events / entries.size();
        }
        return entries;
    }

    /** Takes over entries other consumers left pending for longer than claimIdle. */
    private List<Entry> claim(RedisCommands<String, String> reader, Consumer<String> me) {
        ClaimedMessages<String, String> result = reader.xautoclaim(options.stream(), new XAutoClaimArgs<String>()
                .consumer(me).minIdleTime(options.claimIdle()).startId(claimCursor).count(entriesFor(options.maxBatch())));
        claimCursor = result.getId();
        List<Entry> entries = entries(result.getMessages().stream().filter(m -> m.getBody() != null).toList());
        if (!entries.isEmpty()) {
            claimed.increment(entries.size());
            log.info("consumer {}/{}: claimed {} entries idle for over {} s", options.group(), options.consumer(),
                    entries.size(), options.claimIdle().toSeconds());
        }
        return entries;
    }

    /**
     * Hands the batch to the handler until it is written, then acknowledges it. A store that is unavailable is
     * waited for; any other failure is the input's fault, so the events are retried one by one and those that
     * still fail go to the dead-letter stream with the reason. A batch read for the first time is only started
     * when the handler can finish batches later ({@code ahead} > 0): it is acknowledged once finished, and the
     * consumer goes on meanwhile.
     *
     * @param reread whether these entries were delivered before (own pending or claimed)
     */
    private void processUntilDone(List<Entry> batch, boolean reread) {
        if (batch.isEmpty()) {
            return;
        }
        Map<String, Long> deliveries = reread ? deliveries(batch) : Map.of();
        List<Entry> entries = List.copyOf(batch); // all acknowledged at the end, dead-lettered ones too
        List<LoggedEvent> events = new ArrayList<>();
        List<String> payloads = new ArrayList<>(); // of events, for the dead-letter stream
        for (Entry entry : batch) {
            long delivered = deliveries.getOrDefault(entry.id(), 1L);
            if (delivered > options.maxDeliveries()) {
                deadLetter(entry.id(), String.join("\n", entry.payloads()), "delivered " + delivered
                        + " times without being acknowledged (more than " + options.maxDeliveries()
                        + "): the consumers failed or died on it");
                continue;
            }
            for (int i = 0; i < entry.payloads().size(); i++) {
                String position = entry.id() + "/" + i;
                String payload = entry.payloads().get(i);
                try {
                    events.add(new LoggedEvent(position, codec.decode(payload)));
                    payloads.add(payload);
                } catch (EventCodec.MalformedEventException e) {
                    deadLetter(position, payload, e.getMessage());
                }
            }
        }
        if (reread || options.ahead() == 0 || events.isEmpty()) {
            finishStarted();
            processRetrying(new Started(entries, events, payloads, Finish.DONE));
            return;
        }
        Finish finish;
        try {
            finish = handler.start(events);
        } catch (RuntimeException e) {
            failures.increment();
            log.warn("consumer {}/{}: batch of {} events failed, handling it again: {}", options.group(),
                    options.consumer(), events.size(), e.toString());
            finishStarted();
            processRetrying(new Started(entries, events, payloads, Finish.DONE));
            return;
        }
        started.add(new Started(entries, events, payloads, finish));
        while (started.size() > options.ahead()) {
            finishOldest();
        }
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
            failures.increment();
            log.warn("consumer {}/{}: finishing a batch of {} events failed, handling it and the {} after it again: {}",
                    options.group(), options.consumer(), oldest.events().size(), started.size() - 1, e.toString());
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
                    options.group(), options.consumer(), started.size() + 1, e.toString());
        }
        started.clear();
    }

    /** Waits for every started batch and forgets them, unacknowledged (they are handled again). */
    private void abandonStarted() {
        for (Started s : started) {
            try {
                s.finish().await();
            } catch (RuntimeException e) {
                // handled again after this
            }
        }
        started.clear();
    }

    /**
     * Handles the batch until it succeeds or its events are dead-lettered one by one, then acknowledges it (unless
     * the consumer stopped meanwhile).
     */
    private void processRetrying(Started batch) {
        List<LoggedEvent> events = batch.events();
        if (!events.isEmpty() && handleRetrying(events).isPresent()) {
            for (int i = 0; i < events.size(); i++) {
                LoggedEvent event = events.get(i);
                String payload = batch.payloads().get(i);
                handleRetrying(List.of(event)).ifPresent(failure -> deadLetter(event.position(), payload, failure.toString()));
            }
        }
        handler.resume(); // the last attempt may have failed: the next started batch must not wait on it
        if (running) {
            acknowledge(batch);
        } else {
            log.info("consumer {}/{}: stopping with {} entries unacknowledged; they are re-read on restart",
                    options.group(), options.consumer(), batch.entries().size());
        }
    }

    private void acknowledge(Started batch) {
        if (!batch.entries().isEmpty()) {
            String[] ids = batch.entries().stream().map(Entry::id).toArray(String[]::new);
            redis.shared().sync().xack(options.stream(), options.group(), ids);
            processed.increment(batch.events().size());
        }
    }

    /** How often each entry of the batch has been delivered (XPENDING). */
    private Map<String, Long> deliveries(List<Entry> batch) {
        Map<String, Long> counts = new HashMap<>();
        List<PendingMessage> pending = redis.shared().sync().xpending(options.stream(),
                Consumer.from(options.group(), options.consumer()),
                Range.create(batch.get(0).id(), batch.get(batch.size() - 1).id()), Limit.from(batch.size()));
        pending.forEach(p -> counts.put(p.getId(), p.getRedeliveryCount()));
        return counts;
    }

    /** @return empty when handled (or stopping), else the failure that retrying cannot fix */
    private Optional<RuntimeException> handleRetrying(List<LoggedEvent> events) {
        Duration backoff = Duration.ofMillis(100);
        while (running) {
            try {
                handler.resume();
                handler.start(events).await();
                return Optional.empty();
            } catch (StoreUnavailableException e) {
                failures.increment();
                log.warn("consumer {}/{}: batch of {} events failed, retrying in {} ms: {}", options.group(),
                        options.consumer(), events.size(), backoff.toMillis(), e.getMessage());
                pause(backoff);
                backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
            } catch (RuntimeException e) {
                failures.increment();
                log.warn("consumer {}/{}: {} event(s) failed: {}", options.group(), options.consumer(), events.size(), e.toString());
                return Optional.of(e);
            }
        }
        return Optional.empty(); // stopping: nothing is acknowledged
    }

    /** @param position an event's position, or an entry's id when the whole entry goes */
    private void deadLetter(String position, String payload, String reason) {
        deadLetters.increment();
        log.warn("consumer {}/{}: {} moved to {}: {}", options.group(), options.consumer(), position,
                StreamKeys.deadLetters(options.stream()), reason);
        redis.shared().sync().xadd(StreamKeys.deadLetters(options.stream()), "id", position, "group", options.group(),
                "reason", reason, "e", payload);
    }

    private void pause(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            thread.join(Duration.ofSeconds(15).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
