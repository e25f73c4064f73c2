package dev.featurepipe.cli;

import dev.featurepipe.config.Config;
import dev.featurepipe.services.LocalServices;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** A benchmark against the local services: starts those not running, stops what it started. */
abstract class LocalBenchmark extends ConfiguredCommand {
    @Option(names = "--file", description = "retail CSV (default: the shared UCI Online Retail file)")
    Path file;

    @Override
    public Integer call() {
        Config config = config();
        LocalServices services = ServicesCommand.localServices(config);
        List<String> started = services.up();
        try {
            run(config, file != null ? file : DemoCommand.defaultRetailFile(config));
            return 0;
        } finally {
            services.down(started);
        }
    }

    abstract void run(Config config, Path data);
}
