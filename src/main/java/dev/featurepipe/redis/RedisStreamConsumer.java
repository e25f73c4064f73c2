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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One consumer of a consumer group on the event stream. Reads batches (up to {@code maxBatch} entries, waiting at
 * most {@code maxWait} to fill one), hands them to a {@link BatchHandler} and acknowledges them only after it
 * returned.
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
    }

    /** Where one consumer reads, how it batches, and when it takes over or gives up entries. */
    public record Options(String stream, String group, String consumer, int maxBatch, Duration maxWait,
                          Duration claimIdle, int maxDeliveries) {
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
    private volatile boolean running = true;
    private String claimCursor = "0-0";

    public RedisStreamConsumer(RedisConnections redis, EventCodec codec, Options options, BatchHandler handler,
                               MeterRegistry metrics) {
        this.redis = redis;
        this.codec = codec;
        this.options = options;
        this.handler = handler;
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
        List<StreamMessage<String, String>> batch = new ArrayList<>();
        long deadline = Long.MAX_VALUE; // System.nanoTime() by which the batch is processed, full or not
        while (running) {
            try {
                if (ownPending) {
                    List<StreamMessage<String, String>> pending = reader.xreadgroup(me,
                            XReadArgs.Builder.count(options.maxBatch()), XReadArgs.StreamOffset.from(options.stream(), "0"));
                    ownPending = !pending.isEmpty();
                    processUntilDone(pending, true);
                    continue;
                }
                if (batch.isEmpty() && System.nanoTime() - nextClaim >= 0) {
                    processUntilDone(claim(reader, me), true);
                    nextClaim = System.nanoTime() + options.claimIdle().toNanos() / 2;
                    continue;
                }
                long wait = batch.isEmpty() ? IDLE_BLOCK.toMillis() : Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
                List<StreamMessage<String, String>> read = reader.xreadgroup(me,
                        XReadArgs.Builder.count(options.maxBatch() - batch.size()).block(Math.min(wait, MAX_BLOCK.toMillis())),
                        XReadArgs.StreamOffset.lastConsumed(options.stream()));
                if (batch.isEmpty() && !read.isEmpty()) {
                    deadline = System.nanoTime() + options.maxWait().toNanos();
                }
                batch.addAll(read);
                if (!batch.isEmpty() && (batch.size() >= options.maxBatch() || System.nanoTime() - deadline >= 0)) {
                    processUntilDone(batch, false);
                    batch.clear();
                }
            } catch (RuntimeException e) {
                failures.increment();
                log.warn("consumer {}/{}: reading stream {} failed, re-reading its pending entries: {}", options.group(),
                        options.consumer(), options.stream(), e.toString());
                // a read whose reply was lost leaves entries pending on this consumer: read them again
                ownPending = true;
                batch.clear();
                pause(Duration.ofSeconds(1));
            }
        }
        log.info("consumer {}/{}: stopped", options.group(), options.consumer());
    }

    /** Takes over entries other consumers left pending for longer than claimIdle. */
    private List<StreamMessage<String, String>> claim(RedisCommands<String, String> reader, Consumer<String> me) {
        ClaimedMessages<String, String> result = reader.xautoclaim(options.stream(), new XAutoClaimArgs<String>()
                .consumer(me).minIdleTime(options.claimIdle()).startId(claimCursor).count(options.maxBatch()));
        claimCursor = result.getId();
        List<StreamMessage<String, String>> messages = result.getMessages().stream().filter(m -> m.getBody() != null).toList();
        if (!messages.isEmpty()) {
            claimed.increment(messages.size());
            log.info("consumer {}/{}: claimed {} entries idle for over {} s", options.group(), options.consumer(),
                    messages.size(), options.claimIdle().toSeconds());
        }
        return messages;
    }

    /**
     * Hands the batch to the handler until it succeeds, then acknowledges it. A store that is unavailable is
     * waited for; any other failure is the input's fault, so the events are retried one by one and those that
     * still fail go to the dead-letter stream with the reason.
     *
     * @param reread whether these entries were delivered before (own pending or claimed)
     */
    private void processUntilDone(List<StreamMessage<String, String>> batch, boolean reread) {
        if (batch.isEmpty()) {
            return;
        }
        Map<String, Long> deliveries = reread ? deliveries(batch) : Map.of();
        List<LoggedEvent> events = new ArrayList<>(batch.size());
        List<StreamMessage<String, String>> messages = new ArrayList<>(batch.size());
        for (StreamMessage<String, String> m : batch) {
            long delivered = deliveries.getOrDefault(m.getId(), 1L);
            if (delivered > options.maxDeliveries()) {
                deadLetter(m, "delivered " + delivered + " times without being acknowledged (more than "
                        + options.maxDeliveries() + "): the consumers failed or died on it");
                continue;
            }
            try {
                events.add(new LoggedEvent(m.getId(), codec.decode(m.getBody().getOrDefault("e", ""))));
                messages.add(m);
            } catch (EventCodec.MalformedEventException e) {
                deadLetter(m, e.getMessage());
            }
        }
        if (!events.isEmpty() && handleRetrying(events).isPresent()) {
            for (int i = 0; i < events.size(); i++) {
                StreamMessage<String, String> message = messages.get(i);
                handleRetrying(List.of(events.get(i))).ifPresent(failure -> deadLetter(message, failure.toString()));
            }
        }
        if (running) {
            String[] ids = batch.stream().map(StreamMessage::getId).toArray(String[]::new);
            redis.shared().sync().xack(options.stream(), options.group(), ids);
            processed.increment(events.size());
        } else {
            log.info("consumer {}/{}: stopping with {} entries unacknowledged; they are re-read on restart",
                    options.group(), options.consumer(), batch.size());
        }
    }

    /** How often each entry of the batch has been delivered (XPENDING). */
    private Map<String, Long> deliveries(List<StreamMessage<String, String>> batch) {
        Map<String, Long> counts = new HashMap<>();
        List<PendingMessage> pending = redis.shared().sync().xpending(options.stream(),
                Consumer.from(options.group(), options.consumer()),
                Range.create(batch.get(0).getId(), batch.get(batch.size() - 1).getId()), Limit.from(batch.size()));
        pending.forEach(p -> counts.put(p.getId(), p.getRedeliveryCount()));
        return counts;
    }

    /** @return empty when handled (or stopping), else the failure that retrying cannot fix */
    private Optional<RuntimeException> handleRetrying(List<LoggedEvent> events) {
        Duration backoff = Duration.ofMillis(100);
        while (running) {
            try {
                handler.handle(events);
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

    private void deadLetter(StreamMessage<String, String> m, String reason) {
        deadLetters.increment();
        log.warn("consumer {}/{}: entry {} moved to {}: {}", options.group(), options.consumer(), m.getId(),
                StreamKeys.deadLetters(options.stream()), reason);
        redis.shared().sync().xadd(StreamKeys.deadLetters(options.stream()), "id", m.getId(), "group", options.group(),
                "reason", reason, "e", m.getBody().getOrDefault("e", ""));
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
