package dev.featurepipe.cli;

import dev.featurepipe.chaos.ChaosRun;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.FeaturepipeException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "chaos", mixinStandardHelpOptions = true,
        description = {"Faults injected into the pipeline's role processes under a steady stream of events with a known "
                + "ground truth: processes killed and stopped, Redis killed, ClickHouse stopped and failing, MongoDB "
                + "restarted, poison events. After each, every store is compared with the accepted events.",
            "Runs its own Redis, ClickHouse and MongoDB-protocol server on --base-port and the 6 ports after it, data "
                    + "under <FP_DATA_DIR>/chaos. The last line is 'chaos: scenarios=<n> lost=<events> "
                    + "duplicated=<events>'; exit status 1 if anything was lost, duplicated or different, or did not recover."})
final class ChaosCommand extends ConfiguredCommand {
    @Option(names = "--quick", description = "a lighter load and shorter faults, within about 4 minutes")
    boolean quick;

    @Option(names = "--base-port", defaultValue = "7100", description = "first of the 7 loopback ports of the run: Redis, "
            + "ClickHouse HTTP and TCP, MongoDB, the ClickHouse relay, ingest, serve (default: ${DEFAULT-VALUE})")
    int basePort;

    @Override
    public Integer call() throws Exception {
        Config config = config();
        ChaosRun.Options options = new ChaosRun.Options(quick, basePort, config.home(), runningJar("fp chaos"),
                config.path(Config.DATA_DIR).resolve("chaos"), config.get(Config.LOCAL_REDIS_FSYNC));
        List<ChaosRun.Row> rows = new ChaosRun(options, System.out).run();
        System.out.println();
        System.out.println("| scenario | load | recovery | lost | duplicated | verified |");
        System.out.println("|---|---|---|---|---|---|");
        for (ChaosRun.Row r : rows) {
            System.out.printf(Locale.ROOT, "| %s | %,.0f events/s, %,d accepted, %,d requests sent again | %s | %d | %d | %s |%n",
                    r.scenario(), r.eventsPerSecond(), r.accepted(), r.resent(),
                    r.recovered() ? String.format(Locale.ROOT, "%.1f s", r.recoverySeconds()) : "not within " + ChaosRun.RECOVERY_LIMIT.toSeconds() + " s",
                    r.lost(), r.duplicated(), (r.problems() == 0 ? "" : r.problems() + " OTHER DIFFERENCES; ") + r.verified());
        }
        long lost = rows.stream().mapToLong(ChaosRun.Row::lost).sum();
        long duplicated = rows.stream().mapToLong(ChaosRun.Row::duplicated).sum();
        boolean passed = rows.stream().allMatch(r -> r.recovered() && r.problems() == 0);
        System.out.println();
        System.out.printf("chaos: scenarios=%d lost=%d duplicated=%d%n", rows.size(), lost, duplicated);
        return lost == 0 && duplicated == 0 && passed ? 0 : 1;
    }

    /** The jar this runs from, which {@code command} starts role processes from. */
    static Path runningJar(String command) {
        try {
            Path jar = Path.of(ChaosCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (!Files.isRegularFile(jar)) {
                throw new FeaturepipeException(command + " starts role processes from its jar; run it as ./" + command
                        + ", not from " + jar);
            }
            return jar;
        } catch (URISyntaxException e) {
            throw new FeaturepipeException("cannot locate the running jar: " + e.getMessage(), e);
        }
    }
}
