package dev.featurepipe.cli;

import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryException;
import dev.featurepipe.core.registry.RegistryLoader;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "registry", mixinStandardHelpOptions = true, subcommands = RegistryCommand.Check.class,
        description = "Work with feature registry files.")
final class RegistryCommand {

    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Check a registry file and print every error with its line.")
    static final class Check implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "FILE")
        Path file;

        @Override
        public Integer call() {
            try {
                Registry registry = RegistryLoader.load(file);
                long served = registry.entityNames().stream().mapToLong(e -> registry.served(e).size()).sum();
                System.out.println(file + ": ok (" + registry.eventTypes().size() + " event types, " + served
                        + " served features, " + registry.featureSets().size() + " feature sets)");
                return 0;
            } catch (RegistryException e) {
                System.err.println(e.getMessage());
                return 1;
            }
        }
    }
}
