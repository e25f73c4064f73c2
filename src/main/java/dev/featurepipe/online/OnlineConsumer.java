package dev.featurepipe.online;

import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.OnlineStore;
import dev.featurepipe.core.ProfileStore;
import dev.featurepipe.redis.RedisStreamConsumer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.List;

/** The online role: applies each batch to the profile store and the online store (both idempotent by event id). */
public final class OnlineConsumer implements RedisStreamConsumer.BatchHandler {
    public static final String GROUP = "online";

    private final OnlineStore online;
    private final ProfileStore profiles;
    private final MeterRegistry metrics;
    private final Timer profileTime;
    private final Timer onlineTime;

    public OnlineConsumer(OnlineStore online, ProfileStore profiles, MeterRegistry metrics) {
        this.online = online;
        this.profiles = profiles;
        this.metrics = metrics;
        this.profileTime = metrics.timer("featurepipe.online.batch", "store", "profile");
        this.onlineTime = metrics.timer("featurepipe.online.batch", "store", "online");
    }

    @Override
    public void handle(List<LoggedEvent> batch) {
        profileTime.record(() -> profiles.apply(batch.stream().map(LoggedEvent::event).toList()));
        OnlineStore.ApplyResult result = onlineTime.record(() -> online.apply(batch));
        metrics.counter("featurepipe.online.events", "outcome", "applied").increment(result.applied());
        metrics.counter("featurepipe.online.events", "outcome", "duplicate").increment(result.duplicates());
        metrics.counter("featurepipe.online.events", "outcome", "late").increment(result.late());
    }
}
