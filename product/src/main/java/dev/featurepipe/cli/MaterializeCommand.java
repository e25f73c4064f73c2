package dev.featurepipe.cli;

import dev.featurepipe.app.ConsumerName;
import dev.featurepipe.app.Stores;
import dev.featurepipe.clickhouse.BatchSnapshots;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.registry.BatchFeature;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.materialize.Materializer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "materialize", mixinStandardHelpOptions = true,
        description = "Compute batch features in ClickHouse now and write them to the online store: the values that "
                + "changed since the last run, or with --full every entity's value (a backfill).")
final class MaterializeCommand extends ConfiguredCommand {
    @Option(names = "--full", description = "write every entity's value, not only the changes")
    boolean full;

    @Option(names = "--features", split = ",", description = "batch features to run (default: all of the registry)")
    List<String> features = List.of();

    @Override
    public Integer call() {
        Config config = config();
        try (Stores stores = new Stores(config); ConsumerName name = ConsumerName.of(config)) {
            List<BatchFeature> selected = select(stores.registry());
            BatchSnapshots snapshots = stores.snapshots();
            stores.offlineTable().ensureSchema();
            snapshots.ensureSchema();
            var store = stores.batchValues(name.name() + ":materialize");
            Materializer materializer = new Materializer(snapshots, store, Clock.systemUTC(), new SimpleMeterRegistry());
            for (BatchFeature f : selected) {
                MaterializeProgress.run(materializer, f, full);
            }
        }
        return 0;
    }

    private List<BatchFeature> select(Registry registry) {
        List<BatchFeature> all = registry.batchFeatures();
        if (features.isEmpty()) {
            if (all.isEmpty()) {
                throw new FeaturepipeException("the registry has no batch features (kind: batch) to materialize");
            }
            return all;
        }
        List<String> known = all.stream().map(BatchFeature::name).toList();
        List<String> unknown = features.stream().filter(n -> !known.contains(n)).toList();
        if (!unknown.isEmpty()) {
            throw new FeaturepipeException("not batch features of the registry: " + unknown + " (batch features: " + known + ")");
        }
        return all.stream().filter(f -> features.contains(f.name())).toList();
    }
}
