package dev.featurepipe.online;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.OnlineStore;
import dev.featurepipe.core.ProfileStore;
import dev.featurepipe.redis.RedisStreamConsumer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The online role: applies each batch to the online store and the profile store (both idempotent by event id). The
 * online store's side goes ahead of the profile store's by at most the consumer's {@code ahead} batches, so a slow
 * profile write does not delay the online features.
 */
public final class OnlineConsumer implements RedisStreamConsumer.BatchHandler, AutoCloseable {
    public static final String GROUP = "online";

    private final OnlineStore online;
    private final ProfileStore profiles;
    private final MeterRegistry metrics;
    private final Timer profileTime;
    private final Timer onlineTime;
    private CompletableFuture<Void> profilesDone = CompletableFuture.completedFuture(null); // the last batch's
    /**
     * One thread, so profile updates run in stream order. A batch's updates are queued by the thread that finishes
     * the batch before; once {@link #close} shut the executor down, they run on that thread instead, so that no
     * started batch is left waiting forever.
     */
    private final ExecutorService profileWriter = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(), r -> {
                Thread t = new Thread(r, "fp-online-profiles");
                t.setDaemon(true);
                return t;
            }, (update, executor) -> update.run());

    public OnlineConsumer(OnlineStore online, ProfileStore profiles, MeterRegistry metrics) {
        this.online = online;
        this.profiles = profiles;
        this.metrics = metrics;
        this.profileTime = metrics.timer("featurepipe.online.batch", "store", "profile");
        this.onlineTime = metrics.timer("featurepipe.online.batch", "store", "online");
    }

    @Override
    public void handle(List<LoggedEvent> batch) {
        start(batch).await();
    }

    /**
     * Applies the batch to the online store, and leaves its profile updates running (they share nothing, and each
     * store is idempotent). The profile updates of a batch run after those of the batch before and not at all if
     * those failed, so documents see events in stream order; the consumer handles a failed batch and the ones after
     * it again, in order ({@link #resume}).
     */
    @Override
    public RedisStreamConsumer.Finish start(List<LoggedEvent> batch) {
        List<Event> events = batch.stream().map(LoggedEvent::event).toList();
        CompletableFuture<Void> profileUpdates = profilesDone.thenRunAsync(
                () -> profileTime.record(() -> profiles.apply(events)), profileWriter);
        profilesDone = profileUpdates;
        OnlineStore.ApplyResult result;
        try {
            result = onlineTime.record(() -> online.apply(batch));
        } catch (RuntimeException e) {
            profileUpdates.exceptionally(failure -> null).join(); // nothing of a failed batch keeps running
            throw e;
        }
        metrics.counter("featurepipe.online.events", "outcome", "applied").increment(result.applied());
        metrics.counter("featurepipe.online.events", "outcome", "duplicate").increment(result.duplicates());
        metrics.counter("featurepipe.online.events", "outcome", "late").increment(result.late());
        return RedisStreamConsumer.Finish.of(profileUpdates);
    }

    @Override
    public void resume() {
        profilesDone = CompletableFuture.completedFuture(null);
    }

    @Override
    public void close() {
        profileWriter.shutdown();
    }
}
