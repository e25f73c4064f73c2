package dev.featurepipe.cli;

import dev.featurepipe.config.Config;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** A benchmark against the local services: starts those not running, stops what it started. */
abstract class LocalBenchmark extends ConfiguredCommand {
    @Option(names = "--file", description = "retail CSV (default: the shared UCI Online Retail file)")
    Path file;

    @Mixin
    RedisClusterOptions redisCluster;

    @Override
    public Integer call() {
        RedisClusterOptions.Up up;
        try {
            up = redisCluster.up(config(), "fp bench");
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("fp bench: " + e.getMessage());
            return 2;
        }
        try {
            run(up.config(), file != null ? file : DemoCommand.defaultRetailFile(up.config()));
            return 0;
        } finally {
            up.services().down(up.started());
        }
    }

    abstract void run(Config config, Path data);
}
