package dev.featurepipe.cli;

import dev.featurepipe.app.Pipeline;
import dev.featurepipe.config.Config;
import dev.featurepipe.app.Role;
import java.time.Clock;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run the pipeline: all roles in this process, or the ones named with --roles.")
final class RunCommand extends ConfiguredCommand {
    @Option(names = "--roles", defaultValue = "ingest,online,offline,serve,materialize",
            description = "comma-separated roles: ingest, online, offline, serve, materialize (default: all)")
    String roles;

    @Override
    public Integer call() throws InterruptedException {
        var config = config();
        Pipeline pipeline = Pipeline.start(config, Role.parse(roles), Clock.systemUTC());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            pipeline.close();
            stopped.countDown();
        }, "fp-shutdown"));
        if (pipeline.httpPort() > 0) {
            System.out.println("featurepipe: HTTP API on http://" + config.get(Config.HTTP_HOST)
                    + ":" + pipeline.httpPort() + " (Ctrl-C to stop)");
        }
        stopped.await();
        return 0;
    }
}
