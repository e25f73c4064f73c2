package dev.featurepipe.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import dev.featurepipe.config.Setting;
import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.demo.ReplaySummary;
import dev.featurepipe.demo.RetailReplay;
import dev.featurepipe.redis.StreamGroups;
import dev.featurepipe.services.LocalServices;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "The main job: local services up, the pipeline up, the UCI Online Retail data replayed through "
                + "the ingestion API, and the served features of a few customers shown.")
final class DemoCommand extends ConfiguredCommand {
    @Option(names = "--file", description = "retail CSV (.csv or .csv.gz; default: the shared UCI Online Retail file)")
    Path file;

    @Option(names = "--limit", defaultValue = "" + Long.MAX_VALUE, description = "replay at most N rows (default: all)")
    long limit;

    @Option(names = "--keep", description = "leave the servers and the API running afterwards, to query them")
    boolean keep;

    @Option(names = "--original-time", description = "keep the 2010-2011 times instead of shifting the last row to now")
    boolean originalTime;

    @Option(names = "--batch", defaultValue = "1000", description = "events per ingest request (default: ${DEFAULT-VALUE})")
    int batch;

    @Mixin
    RedisClusterOptions redisCluster;

    @Override
    public Integer call() throws Exception {
        Config config = config().with(Map.<Setting<?>, String>of(Config.AUTH, "off"));
        System.out.println("fp demo: access control is off (FP_AUTH=off) for this local demo; './fp run' requires API keys");
        Path data = file != null ? file : defaultRetailFile(config);
        if (!Files.isReadable(data)) {
            spec.commandLine().getErr().println("fp demo: cannot read " + data + "; give the retail CSV with --file");
            return 2;
        }
        RedisClusterOptions.Up up;
        try {
            up = redisCluster.up(config, "fp demo");
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("fp demo: " + e.getMessage());
            return 2;
        }
        config = up.config();
        LocalServices services = up.services();
        List<String> started = up.started();
        ObjectMapper json = new ObjectMapper();
        Pipeline pipeline = Pipeline.start(config, EnumSet.allOf(Role.class), Clock.systemUTC());
        try {
            URI api = URI.create("http://" + config.get(Config.HTTP_HOST) + ":" + pipeline.httpPort());
            ReplaySummary summary = replay(json, api, data);
            printSummary(summary);
            waitForConsumers(pipeline);
            materialize(pipeline);
            awaitReady(api);
            showFeatures(api, summary.lastCustomers());
            System.out.printf(Locale.ROOT, "%nClickHouse %s.events: %,d events (FINAL)%n",
                    config.get(Config.CLICKHOUSE_DATABASE), pipeline.offlineTable().countEvents());
            if (keep) {
                System.out.println("\nServing on " + api + " (for example: curl " + api + "/v1/features/customer/"
                        + summary.lastCustomers().get(0) + "). Ctrl-C stops the API; './fp services down' stops the servers.");
                CountDownLatch forever = new CountDownLatch(1);
                Runtime.getRuntime().addShutdownHook(new Thread(pipeline::close));
                forever.await();
            }
        } finally {
            if (!keep) {
                pipeline.close();
                services.down(started);
            }
        }
        return 0;
    }

    /** The shared UCI Online Retail file beside the project. */
    static Path defaultRetailFile(Config config) {
        return config.home().resolve("../shared/datasets/online-retail/online-retail.csv.gz").normalize();
    }

    private ReplaySummary replay(ObjectMapper json, URI api, Path data) {
        RetailReplay replay = new RetailReplay(json, api, Clock.systemUTC());
        RetailReplay.Options options = new RetailReplay.Options(data, limit, originalTime, batch, 4);
        RetailReplay.Scan scan = replay.scan(options);
        System.out.printf(Locale.ROOT, "Replaying %,d rows of %s through %s/v1/events%n", scan.rows(), data.getFileName(), api);
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName("replay").setInitialMax(scan.rows())
                .setUnit(" rows", 1).showSpeed().setUpdateIntervalMillis(250).build()) {
            return replay.replay(options, scan, bar::stepBy);
        }
    }

    private static void printSummary(ReplaySummary s) {
        System.out.printf(Locale.ROOT, "%nrows read   %,10d%naccepted    %,10d   (of them already in the log: %,d)%n"
                        + "rejected    %,10d%n", s.rowsRead(), s.accepted(), s.duplicates(), s.rejected());
        s.rejectedByReason().forEach((reason, n) -> System.out.printf(Locale.ROOT, "  %,10d  %s%n", n, reason));
        System.out.printf(Locale.ROOT, "rate        %,10.0f events/s over %.1f s%n", s.eventsPerSecond(), s.seconds());
    }

    private static void waitForConsumers(Pipeline pipeline) throws InterruptedException {
        System.out.print("\nWaiting for the consumer groups to catch up ");
        Duration timeout = Duration.ofMinutes(30);
        if (!StreamGroups.awaitCaughtUp(pipeline.redis().shared().sync(), pipeline.stores().shards(), timeout, () -> System.out.print("."))) {
            throw new FeaturepipeException("the consumer groups did not catch up within " + timeout.toMinutes() + " minutes");
        }
        System.out.println(" done: both groups caught up");
    }

    /** Computes the batch features from the events just replayed, so that they are served too. */
    private static void materialize(Pipeline pipeline) {
        pipeline.materializer().ifPresent(materializer -> {
            System.out.println("\nMaterializing the batch features");
            pipeline.registry().batchFeatures().forEach(f -> MaterializeProgress.run(materializer, f, false));
        });
    }

    /** Waits for /readyz: every store answers and the read paths have run, so no feature shows a cold path's timeout. */
    private static void awaitReady(URI api) throws IOException, InterruptedException {
        HttpClient http = HttpClient.newHttpClient();
        long until = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (http.send(HttpRequest.newBuilder(api.resolve("/readyz")).build(), HttpResponse.BodyHandlers.discarding())
                .statusCode() != 200) {
            if (System.nanoTime() - until > 0) {
                throw new FeaturepipeException("the API did not become ready within 2 minutes; see GET " + api + "/readyz");
            }
            Thread.sleep(100);
        }
    }

    private static void showFeatures(URI api, List<String> customers) throws IOException, InterruptedException {
        HttpClient http = HttpClient.newHttpClient();
        // decimals printed as served: 36.00 stays 36.00, not 36 or 36.0
        ObjectMapper json = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .enable(JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN).setNodeFactory(JsonNodeFactory.withExactBigDecimals(true));
        for (String id : customers) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(api.resolve("/v1/features/customer/" + id)).build(),
                    HttpResponse.BodyHandlers.ofString());
            System.out.println("\nGET /v1/features/customer/" + id + "  ->  " + r.statusCode());
            System.out.println(json.writerWithDefaultPrettyPrinter().writeValueAsString(json.readTree(r.body())));
        }
    }
}
