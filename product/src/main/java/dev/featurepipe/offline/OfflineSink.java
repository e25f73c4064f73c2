package dev.featurepipe.offline;

import dev.featurepipe.consumer.BatchHandler;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.NumberRule;
import dev.featurepipe.core.OfflineStore;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.List;

/**
 * The offline role: writes each batch of raw events to the offline store, each with the time the log appended it
 * (its ingest time); the batch is acknowledged after that.
 */
public final class OfflineSink implements BatchHandler {
    public static final String GROUP = "offline";

    private final OfflineStore store;
    private final NumberRule numberRule;
    private final Counter rows;
    private final Timer insertTime;

    public OfflineSink(OfflineStore store, NumberRule numberRule, MeterRegistry metrics) {
        this.store = store;
        this.numberRule = numberRule;
        this.rows = metrics.counter("featurepipe.offline.rows");
        this.insertTime = metrics.timer("featurepipe.offline.insert");
    }

    @Override
    public void handle(List<LoggedEvent> batch) {
        batch.forEach(e -> numberRule.require(e.event())); // as online: such an event goes to the dead letters, not the table
        insertTime.record(() -> store.insert(batch));
        rows.increment(batch.size());
    }
}
