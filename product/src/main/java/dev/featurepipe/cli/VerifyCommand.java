package dev.featurepipe.cli;

import dev.featurepipe.app.Stores;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Durations;
import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.redis.StreamGroups;
import dev.featurepipe.verify.SkewCheck;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "The skew check: online values and profile fields of a sample of entities against the same "
                + "features and fields recomputed by ClickHouse at the same instant, once both consumer groups have caught "
                + "up. Exits 0 only when no value differs.")
final class VerifyCommand extends ConfiguredCommand {
    @Option(names = "--sample", defaultValue = "1000", description = "entities to check per entity type (default: ${DEFAULT-VALUE})")
    int sample;

    @Option(names = "--features", split = ",", description = "served names to check (default: every window and lifetime feature and profile field)")
    List<String> features = List.of();

    @Option(names = "--seed", defaultValue = "1", description = "which sample to take (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--wait", defaultValue = "10m", description = "how long to wait for the consumer groups (default: ${DEFAULT-VALUE})")
    String waitFor;

    @Override
    public Integer call() throws InterruptedException {
        Config config = config();
        try (Stores stores = new Stores(config)) {
            Registry registry = stores.registry();
            Duration timeout = Durations.parse(waitFor);
            if (!StreamGroups.awaitCaughtUp(stores.redis().shared().sync(), stores.shards(), timeout, () -> { })) {
                throw new FeaturepipeException("the consumer groups of " + stores.shards()
                        + " did not catch up within " + timeout.toSeconds() + " s; is './fp run' running?");
            }
            stores.offlineTable().ensureSchema();
            SkewCheck check = new SkewCheck(registry, stores.onlineStore(Clock.systemUTC()), stores.profileStore(),
                    stores.offlineTable());
            long t = System.currentTimeMillis();
            long checked = 0;
            long mismatched = 0;
            for (String entity : registry.entityNames()) {
                List<String> ids = check.sample(entity, sample, seed);
                System.out.printf(Locale.ROOT, "%s: %d entities, as of %d%n", entity, ids.size(), t);
                for (SkewCheck.FeatureReport r : check.check(entity, ids, features, t)) {
                    System.out.printf(Locale.ROOT, "  %-28s compared %6d  mismatched %6d%n", r.feature(), r.compared(), r.mismatched());
                    r.examples().forEach(e -> System.out.println("      " + e));
                    checked += r.compared();
                    mismatched += r.mismatched();
                }
            }
            System.out.println("verify: checked=" + checked + " mismatched=" + mismatched);
            return mismatched == 0 ? 0 : 1;
        }
    }
}
