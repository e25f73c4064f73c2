package dev.featurepipe.cli;

import dev.featurepipe.app.Stores;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.export.TrainingSetExport;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "training-set", mixinStandardHelpOptions = true,
        description = "A point-in-time training set: each label row with every requested window, lifetime and batch "
                + "feature and profile field as of the row's time, from ClickHouse.")
final class TrainingSetCommand extends ConfiguredCommand {
    @Option(names = "--labels", required = true, description = "CSV with a header: the entity's key column, ts (epoch ms "
            + "or ISO-8601), and label columns, copied to the output")
    Path labels;

    @Option(names = "--out", required = true, description = "CSV to write")
    Path out;

    @Option(names = "--features", split = ",", description = "served names (default: every window, lifetime and batch feature and profile field)")
    List<String> features = List.of();

    @Option(names = "--entity", description = "the labels' entity (default: the registry's only one)")
    String entity;

    @Override
    public Integer call() {
        Config config = config();
        Stores stores = new Stores(config); // ClickHouse only: nothing to close
        Registry registry = stores.registry();
        String target = entity != null ? entity : onlyEntity(registry);
        stores.offlineTable().ensureSchema(); // a table from before ingested_at gets it; a changed type stops here
        stores.snapshots().ensureSchema();
        TrainingSetExport export = new TrainingSetExport(registry,
                stores.clickhouse().withDatabase(config.get(Config.CLICKHOUSE_DATABASE)), stores.json());
        int count = features.isEmpty() ? registry.served(target).size() : features.size();
        TrainingSetExport.Summary summary;
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName("features").setInitialMax(count).build()) {
            summary = export.export(labels, target, features, out, bar::stepBy);
        }
        System.out.printf(Locale.ROOT, "%s: %,d rows x %d features in %.1f s%n", out, summary.rows(), summary.features(),
                summary.seconds());
        return 0;
    }

    private static String onlyEntity(Registry registry) {
        if (registry.entityNames().size() != 1) {
            throw new FeaturepipeException("the registry has several entities " + registry.entityNames() + "; name one with --entity");
        }
        return registry.entityNames().get(0);
    }
}
