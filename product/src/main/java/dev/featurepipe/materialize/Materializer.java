package dev.featurepipe.materialize;

import dev.featurepipe.clickhouse.BatchSnapshots;
import dev.featurepipe.core.BatchValueStore;
import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.registry.BatchFeature;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * Computes a batch feature in ClickHouse as of now and writes it to the online store. Incremental (the default)
 * writes only the values that changed since the last run; a full run writes every entity's value again. A run
 * is full anyway when the online store may not hold the last run's values: no run yet, or a run whose writes did
 * not complete. One process at a time materializes a feature.
 */
public final class Materializer {
    /** Told how many values a run writes, then of each chunk written. */
    public interface Progress {
        Progress NONE = new Progress() {
            @Override
            public void start(String feature, long total) {
            }

            @Override
            public void step(long written) {
            }
        };

        void start(String feature, long total);

        void step(long written);
    }

    /** What a run did: how many entities have a value, how many values it wrote (or removed), in how long. */
    public record Outcome(String feature, boolean full, long computedAt, long entities, long written, double seconds) {
    }

    private static final int CHUNK = 5_000;
    /** Longest a run may hold its claim on a feature (a process that died releases it after this). */
    private static final Duration CLAIM = Duration.ofMinutes(30);

    private final BatchSnapshots snapshots;
    private final BatchValueStore store;
    private final Clock clock;
    private final MeterRegistry metrics;

    public Materializer(BatchSnapshots snapshots, BatchValueStore store, Clock clock, MeterRegistry metrics) {
        this.snapshots = snapshots;
        this.store = store;
        this.clock = clock;
        this.metrics = metrics;
    }

    /**
     * @param full write every entity's value, not only the changes
     * @throws FeaturepipeException when another process is materializing the feature, or its SQL fails
     */
    public Outcome run(BatchFeature f, boolean full, Progress progress) {
        if (!store.tryLock(f, CLAIM)) {
            metrics.counter("featurepipe.materialize.failures", "feature", f.name(), "reason", "busy").increment();
            throw new FeaturepipeException("batch feature '" + f.name() + "' is being materialized by another process; "
                    + "run again when it is done");
        }
        try {
            long started = System.nanoTime();
            OptionalLong lastRun = snapshots.lastRun(f.name());
            long asOf = Math.max(clock.millis(), lastRun.orElse(0) + 1); // each run has a time of its own
            boolean writeAll = full || !onlineHolds(f, lastRun);
            BatchSnapshots.Run run = snapshots.compute(f, asOf);
            try {
                store.beginWrite(f, asOf);
                progress.start(f.name(), (writeAll ? run.entities() : run.changed()) + run.removed());
                List<BatchValueStore.Write> chunk = new ArrayList<>(CHUNK);
                long[] written = {0};
                snapshots.read(run, writeAll, value -> {
                    chunk.add(value);
                    if (chunk.size() == CHUNK) {
                        written[0] += flush(f, chunk, asOf, progress);
                    }
                });
                written[0] += flush(f, chunk, asOf, progress);
                double seconds = (System.nanoTime() - started) / 1e9;
                snapshots.record(run, writeAll, seconds);
                store.endWrite(f, asOf, writeAll);
                metrics.counter("featurepipe.materialize.values", "feature", f.name()).increment(written[0]);
                metrics.timer("featurepipe.materialize.run", "feature", f.name()).record(Duration.ofNanos(System.nanoTime() - started));
                return new Outcome(f.name(), writeAll, asOf, run.entities(), written[0], seconds);
            } finally {
                snapshots.drop(run);
            }
        } catch (RuntimeException e) {
            metrics.counter("featurepipe.materialize.failures", "feature", f.name(), "reason", "error").increment();
            throw e;
        } finally {
            store.unlock(f);
        }
    }

    private int flush(BatchFeature f, List<BatchValueStore.Write> chunk, long asOf, Progress progress) {
        int n = chunk.size();
        if (n > 0) {
            store.write(f, chunk, asOf);
            progress.step(n);
            chunk.clear();
        }
        return n;
    }

    /** Whether the online store holds exactly the values of the feature's last recorded run. */
    private boolean onlineHolds(BatchFeature f, OptionalLong lastRun) {
        BatchValueStore.Marks marks = store.marks(f);
        return marks.writing() == 0 && lastRun.isPresent() && lastRun.getAsLong() == marks.computedAt();
    }
}
