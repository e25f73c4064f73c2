package dev.featurepipe.online;

import dev.featurepipe.consumer.BatchHandler;
import dev.featurepipe.consumer.Finish;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.NumberRule;
import dev.featurepipe.core.OnlineStore;
import dev.featurepipe.core.ProfileStore;
import dev.featurepipe.core.SequencedEvent;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The online role: applies each batch to the online store (idempotent by event key), which numbers each entity's
 * events, and then to the profile store (idempotent by those numbers). The
 * online store's side goes ahead of the profile store's by at most the consumer's {@code ahead} batches, so a slow
 * profile write does not delay the online features; the batches whose profile updates wait meanwhile are then
 * written together, in one call of at most a batch's worth of events.
 */
public final class OnlineConsumer implements BatchHandler, AutoCloseable {
    public static final String GROUP = "online";

    private final OnlineStore online;
    private final ProfileStore profiles;
    private final NumberRule numberRule;
    private final MeterRegistry metrics;
    private final Timer profileTime;
    private final Timer onlineTime;
    private final int writeEvents;
    /** Batches whose profile updates wait for the writer, in stream order. */
    private final Queue<Waiting> waiting = new ConcurrentLinkedQueue<>();
    /** The failure of a profile write; the batches after it fail with it, unwritten, until {@link #resume}. */
    private volatile RuntimeException halted;
    /**
     * One thread, so profile updates run in stream order. Once {@link #close} shut the executor down, a write runs
     * on the thread that asks for it instead, so that no started batch is left waiting forever.
     */
    private final ExecutorService profileWriter = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(), r -> {
                Thread t = new Thread(r, "fp-online-profiles");
                t.setDaemon(true);
                return t;
            }, (write, executor) -> write.run());

    private record Waiting(List<SequencedEvent> events, CompletableFuture<Void> written) {
    }

    /** @param writeEvents the most events one profile write takes, unless one batch holds more */
    public OnlineConsumer(OnlineStore online, ProfileStore profiles, NumberRule numberRule, MeterRegistry metrics,
                          int writeEvents) {
        this.online = online;
        this.profiles = profiles;
        this.numberRule = numberRule;
        this.metrics = metrics;
        this.writeEvents = writeEvents;
        this.profileTime = metrics.timer("featurepipe.online.profile.writes");
        this.onlineTime = metrics.timer("featurepipe.online.batch", "store", "online");
    }

    @Override
    public void handle(List<LoggedEvent> batch) {
        start(batch).await();
    }

    /**
     * Applies the batch to the online store, then leaves its profile updates to the writer (each store is
     * idempotent). The writer takes the batches waiting, oldest first, and applies their events in one call, so
     * documents see events in stream order. If that fails, so do the batches after it, unwritten, and the consumer
     * handles them all again, in order ({@link #resume}). A batch the online store refuses (an event that breaks the
     * {@link NumberRule} or that a sum cannot hold) updates no profile: the event the consumer finds at fault then
     * changes neither store.
     */
    @Override
    public Finish start(List<LoggedEvent> batch) {
        batch.forEach(e -> numberRule.require(e.event()));
        OnlineStore.ApplyResult result = onlineTime.record(() -> online.apply(batch));
        metrics.counter("featurepipe.online.events", "outcome", "applied").increment(result.applied());
        metrics.counter("featurepipe.online.events", "outcome", "duplicate").increment(result.duplicates());
        metrics.counter("featurepipe.online.events", "outcome", "late").increment(result.late());
        Waiting queued = new Waiting(result.sequenced(), new CompletableFuture<>());
        waiting.add(queued);
        profileWriter.execute(this::writeWaiting);
        return Finish.of(queued.written());
    }

    /**
     * On the writer's thread: the profile updates of the batches waiting, oldest first, up to {@code writeEvents}
     * events, in one call. Synchronized for the writes that run on other threads after {@link #close}.
     */
    private synchronized void writeWaiting() {
        List<Waiting> group = new ArrayList<>();
        List<SequencedEvent> events = new ArrayList<>();
        for (Waiting w = waiting.peek(); w != null && (group.isEmpty() || events.size() + w.events().size() <= writeEvents);
             w = waiting.peek()) {
            group.add(waiting.poll());
            events.addAll(w.events());
        }
        if (group.isEmpty()) {
            return; // an earlier call took them
        }
        RuntimeException failure = halted;
        if (failure == null) {
            try {
                profileTime.record(() -> profiles.apply(events));
                group.forEach(w -> w.written().complete(null));
                return;
            } catch (RuntimeException e) {
                halted = e;
                failure = e;
            } catch (Error e) {
                // the consumer waiting for these batches gets the error and ends the process; none waits forever
                group.forEach(w -> w.written().completeExceptionally(e));
                throw e;
            }
        }
        for (Waiting w : group) {
            w.written().completeExceptionally(failure);
        }
    }

    @Override
    public void resume() {
        halted = null;
    }

    @Override
    public void close() {
        profileWriter.shutdown();
    }
}
