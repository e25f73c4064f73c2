package dev.featurepipe.online;

import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.OnlineStore;
import dev.featurepipe.core.ProfileStore;
import dev.featurepipe.redis.RedisStreamConsumer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** The online role: applies each batch to the profile store and the online store (both idempotent by event id). */
public final class OnlineConsumer implements RedisStreamConsumer.BatchHandler, AutoCloseable {
    public static final String GROUP = "online";

    private final OnlineStore online;
    private final ProfileStore profiles;
    private final MeterRegistry metrics;
    private final Timer profileTime;
    private final Timer onlineTime;
    private final ExecutorService profileWriter = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "fp-online-profiles");
        t.setDaemon(true);
        return t;
    });

    public OnlineConsumer(OnlineStore online, ProfileStore profiles, MeterRegistry metrics) {
        this.online = online;
        this.profiles = profiles;
        this.metrics = metrics;
        this.profileTime = metrics.timer("featurepipe.online.batch", "store", "profile");
        this.onlineTime = metrics.timer("featurepipe.online.batch", "store", "online");
    }

    /**
     * Applies the batch to both stores at once (they share nothing, and each is idempotent), so a batch takes as
     * long as the slower store, not both; if either fails, the batch fails and is applied again to both.
     */
    @Override
    public void handle(List<LoggedEvent> batch) {
        CompletableFuture<Void> profileUpdates = CompletableFuture.runAsync(
                () -> profileTime.record(() -> profiles.apply(batch.stream().map(LoggedEvent::event).toList())), profileWriter);
        OnlineStore.ApplyResult result;
        try {
            result = onlineTime.record(() -> online.apply(batch));
        } finally {
            awaitProfiles(profileUpdates);
        }
        metrics.counter("featurepipe.online.events", "outcome", "applied").increment(result.applied());
        metrics.counter("featurepipe.online.events", "outcome", "duplicate").increment(result.duplicates());
        metrics.counter("featurepipe.online.events", "outcome", "late").increment(result.late());
    }

    private static void awaitProfiles(CompletableFuture<Void> updates) {
        try {
            updates.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r; // as thrown by the profile store, so the consumer can tell unavailable from rejected
            }
            throw e;
        }
    }

    @Override
    public void close() {
        profileWriter.shutdown();
    }
}
