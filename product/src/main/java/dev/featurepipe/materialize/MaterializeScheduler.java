package dev.featurepipe.materialize;

import dev.featurepipe.core.BatchValueStore;
import dev.featurepipe.core.registry.BatchFeature;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The materialize role: recomputes each batch feature every {@code refresh}, incrementally, and writes every value
 * again (full) once the last full run is older than half the feature's ttl, so that no value expires while this
 * runs. A run that fails is tried again after {@link #RETRY}.
 */
public final class MaterializeScheduler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MaterializeScheduler.class);
    static final Duration RETRY = Duration.ofMinutes(1);

    private final List<BatchFeature> features;
    private final Materializer materializer;
    private final BatchValueStore store;
    private final Clock clock;
    private final Thread thread;
    private final Map<String, Long> retryAt = new HashMap<>();
    private volatile boolean running = true;

    public MaterializeScheduler(List<BatchFeature> features, Materializer materializer, BatchValueStore store, Clock clock) {
        this.features = features;
        this.materializer = materializer;
        this.store = store;
        this.clock = clock;
        this.thread = new Thread(this::run, "fp-materialize");
    }

    public MaterializeScheduler start() {
        thread.start();
        return this;
    }

    private void run() {
        log.info("materialize: scheduling {} batch feature(s)", features.size());
        while (running) {
            long next = clock.millis() + RETRY.toMillis();
            for (BatchFeature f : features) {
                next = Math.min(next, runIfDue(f));
            }
            try {
                Thread.sleep(Math.max(10, next - clock.millis()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Runs the feature when it is due; returns when it is due next. */
    private long runIfDue(BatchFeature f) {
        long now = clock.millis();
        try {
            BatchValueStore.Marks marks = store.marks(f);
            long due = Math.max(marks.computedAt() + f.refresh().toMillis(), retryAt.getOrDefault(f.name(), 0L));
            if (now < due || !running) {
                return due;
            }
            boolean full = now - marks.fullAt() >= f.ttl().toMillis() / 2;
            Materializer.Outcome o = materializer.run(f, full, Materializer.Progress.NONE);
            log.info("materialize: {} ({}) wrote {} of {} values in {} s", o.feature(), o.full() ? "full" : "incremental",
                    o.written(), o.entities(), String.format("%.1f", o.seconds()));
            return clock.millis() + f.refresh().toMillis();
        } catch (RuntimeException e) {
            log.warn("materialize: {} failed, trying again in {} s: {}", f.name(), RETRY.toSeconds(), e.getMessage());
            retryAt.put(f.name(), now + RETRY.toMillis());
            return now + RETRY.toMillis();
        }
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(Duration.ofSeconds(15).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
