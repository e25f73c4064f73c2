package dev.featurepipe.cli;

import dev.featurepipe.services.LocalServices;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "services", mixinStandardHelpOptions = true,
        description = "Start, stop or show the local Redis, ClickHouse and MongoDB-protocol servers (loopback only).")
final class ServicesCommand extends ConfiguredCommand {
    @Parameters(index = "0", paramLabel = "up|down|status", description = "up: install when missing, start, wait until they answer; "
            + "down: stop what up started; status: show what answers")
    String action;

    @Override
    public Integer call() {
        LocalServices services = localServices(config());
        switch (action) {
            case "up" -> services.up();
            case "down" -> services.down();
            case "status" -> services.status();
            default -> {
                spec.commandLine().getErr().println("fp services: unknown action '" + action + "' (up, down or status)");
                return 2;
            }
        }
        return 0;
    }
}
