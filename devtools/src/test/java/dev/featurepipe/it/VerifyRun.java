package dev.featurepipe.it;

import dev.featurepipe.cli.Main;
import dev.featurepipe.config.Config;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** {@code ./fp verify} as a user runs it, in this process, against the stores and registry of a test's configuration. */
final class VerifyRun {
    /** What the command printed, and its exit code. */
    record Result(int exitCode, List<String> lines) {
        String last() {
            return lines.get(lines.size() - 1);
        }
    }

    private VerifyRun() {
    }

    /** Runs verify on a sample of {@code sample} entities per entity type. */
    static Result run(Config config, int sample) {
        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        int exit;
        try {
            exit = Main.commandLine().execute("verify", "--sample", Integer.toString(sample), "--wait", "1m",
                    "--redis-url=" + config.get(Config.REDIS_URL), "--clickhouse-url=" + config.get(Config.CLICKHOUSE_URL),
                    "--clickhouse-database=" + config.get(Config.CLICKHOUSE_DATABASE),
                    "--clickhouse-cluster=" + config.get(Config.CLICKHOUSE_CLUSTER), "--stream=" + config.get(Config.STREAM),
                    "--stream-shards=" + config.get(Config.STREAM_SHARDS), "--mongo-uri=" + config.get(Config.MONGO_URI),
                    "--mongo-database=" + config.get(Config.MONGO_DATABASE), "--registry=" + config.get(Config.REGISTRY));
        } finally {
            System.setOut(stdout);
        }
        List<String> lines = printed.toString(StandardCharsets.UTF_8).lines().toList();
        lines.forEach(System.out::println);
        return new Result(exit, lines);
    }
}
