package dev.featurepipe.bench;

import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Durations;
import dev.featurepipe.core.Secrets;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * What a durability setting costs the ingest role: batched and single-event ingestion, closed loop, in runs that
 * alternate between the setting's two modes so both see the same machine; the median of the runs for each.
 * Ingest alone (no consumers), so the figures are the append path: HTTP, validation, the append script, the AOF
 * and, when asked, the wait for replicas.
 * <ul>
 *   <li>By default Redis's {@code appendfsync}, {@code everysec} and {@code always}, switched on the running Redis
 *       ({@code CONFIG SET}) between runs, and restored after.</li>
 *   <li>With {@code --wait-replicas N}, {@code FP_INGEST_WAIT_REPLICAS} 0 and N: two ingest pipelines on the same
 *       Redis (or cluster, which needs N replicas per master), one with each.</li>
 * </ul>
 *
 * <p>Run: {@code ./fp bench ingest [--runs 5] [--seconds 5] [--wait-replicas 1]}
 */
public final class IngestBench {
    public static final List<String> MODES = List.of("everysec", "always");
    private static final int BATCH = 1_000;

    /**
     * One mode's medians over the runs.
     *
     * @param setting {@code fsync} or {@code wait_replicas}
     */
    public record Result(String setting, String mode, double batchedEventsPerSecond, double singleEventsPerSecond,
                         double singleP50Millis, double singleP99Millis, int runs) {
    }

    private record Run(double batchedEventsPerSecond, double singleEventsPerSecond, Histogram singleLatency) {
    }

    /** A mode: the ingest port its load goes to, and what to do before each of its runs. */
    private record Mode(String name, int port, Runnable enter) {
    }

    private final Config config;
    private final int runs;
    private final Duration measure;
    private final int waitReplicas;
    private final PrintStream out;
    private final String run = "bench-ingest-" + UUID.randomUUID().toString().substring(0, 8);

    public IngestBench(Config config, int runs, Duration measure, PrintStream out) {
        this(config, runs, measure, 0, out);
    }

    /** @param waitReplicas 0: the appendfsync modes; above: FP_INGEST_WAIT_REPLICAS 0 and this */
    public IngestBench(Config config, int runs, Duration measure, int waitReplicas, PrintStream out) {
        this.config = config;
        this.runs = runs;
        this.measure = measure;
        this.waitReplicas = waitReplicas;
        this.out = out;
    }

    public List<Result> run() throws InterruptedException {
        // its own port and stream, and no API keys: the load it sends carries none
        Config benchConfig = config.with(Map.of(Config.STREAM, run + ":events", Config.HTTP_PORT, "0", Config.AUTH, "off"));
        if (waitReplicas > 0) {
            return waitModes(benchConfig);
        }
        try (Pipeline pipeline = Pipeline.start(benchConfig, EnumSet.of(Role.INGEST), Clock.systemUTC())) {
            RedisClusterCommands<String, String> redis = pipeline.redis().shared().sync();
            String original = redis.configGet("appendfsync").get("appendfsync");
            String appendonly = redis.configGet("appendonly").get("appendonly");
            out.printf("Redis appendonly %s, appendfsync %s; %d runs of %d s per mode, alternating%n", appendonly, original,
                    runs, measure.toSeconds());
            try {
                return measure("fsync", MODES.stream().map(m -> new Mode(m, pipeline.httpPort(),
                        () -> redis.configSet("appendfsync", m))).toList(), redis);
            } finally {
                redis.configSet("appendfsync", original);
            }
        }
    }

    private List<Result> waitModes(Config benchConfig) throws InterruptedException {
        String waiting = Integer.toString(waitReplicas);
        try (Pipeline none = Pipeline.start(benchConfig.with(Map.of(Config.INGEST_WAIT_REPLICAS, "0")),
                EnumSet.of(Role.INGEST), Clock.systemUTC());
             Pipeline wait = Pipeline.start(benchConfig.with(Map.of(Config.INGEST_WAIT_REPLICAS, waiting)),
                     EnumSet.of(Role.INGEST), Clock.systemUTC())) {
            out.printf("FP_INGEST_WAIT_REPLICAS 0 and %s (FP_INGEST_WAIT_TIMEOUT %s), Redis %s; %d runs of %d s per"
                            + " mode, alternating%n", waiting,
                    Durations.format(benchConfig.get(Config.INGEST_WAIT_TIMEOUT)),
                    Secrets.redact(benchConfig.get(Config.REDIS_URL).toString()), runs, measure.toSeconds());
            return measure("wait_replicas", List.of(new Mode("0", none.httpPort(), () -> { }),
                    new Mode(waiting, wait.httpPort(), () -> { })), none.redis().shared().sync());
        }
    }

    /** The runs, each mode once per run, in turns that alternate which goes first. */
    private List<Result> measure(String setting, List<Mode> modes, RedisClusterCommands<String, String> redis)
            throws InterruptedException {
        Map<String, List<Run>> byMode = new LinkedHashMap<>();
        try {
            once(modes.get(0).port(), "warm-up"); // the JIT compiles the append path before anything is measured
            once(modes.get(1).port(), "warm-up-2");
            BenchData.deleteKeys(redis, run);
            for (int r = 0; r < runs; r++) {
                for (Mode mode : r % 2 == 0 ? modes : List.of(modes.get(1), modes.get(0))) {
                    mode.enter().run();
                    Run one = once(mode.port(), mode.name() + "-" + r);
                    BenchData.deleteKeys(redis, run);
                    byMode.computeIfAbsent(mode.name(), m -> new ArrayList<>()).add(one);
                    out.printf(Locale.ROOT, "  %s %-8s run %d: batched %,.0f events/s; single-event %,.0f events/s,"
                                    + " p50 %.2f ms, p99 %.2f ms%n", setting, mode.name(), r + 1, one.batchedEventsPerSecond(),
                            one.singleEventsPerSecond(), millis(one.singleLatency(), 50), millis(one.singleLatency(), 99));
                }
            }
        } finally {
            BenchData.deleteKeys(redis, run);
        }
        List<Result> results = new ArrayList<>();
        byMode.forEach((mode, all) -> results.add(new Result(setting, mode,
                median(all.stream().mapToDouble(Run::batchedEventsPerSecond).toArray()),
                median(all.stream().mapToDouble(Run::singleEventsPerSecond).toArray()),
                median(all.stream().mapToDouble(x -> millis(x.singleLatency(), 50)).toArray()),
                median(all.stream().mapToDouble(x -> millis(x.singleLatency(), 99)).toArray()), all.size())));
        return results;
    }

    private Run once(int port, String label) throws InterruptedException {
        AtomicLong ids = new AtomicLong();
        Loop batched = closedLoop(port, 4, () -> {
            StringBuilder body = new StringBuilder();
            for (int e = 0; e < BATCH; e++) {
                body.append(event(label + "-b" + ids.incrementAndGet())).append('\n');
            }
            return HttpConnection.post("/v1/events", "application/x-ndjson", body.toString().getBytes(StandardCharsets.UTF_8));
        });
        Loop single = closedLoop(port, 16, () -> HttpConnection.post("/v1/events", "application/json",
                event(label + "-s" + ids.incrementAndGet()).getBytes(StandardCharsets.UTF_8)));
        return new Run(batched.requests() * BATCH / batched.seconds(), single.requests() / single.seconds(), single.latency());
    }

    private record Loop(long requests, double seconds, Histogram latency) {
    }

    private interface Requests {
        byte[] next();
    }

    /** Requests as fast as {@code workers} connections answer them, for the measuring time; each must be a 202. */
    private Loop closedLoop(int port, int workers, Requests requests) throws InterruptedException {
        Recorder latency = new Recorder(3);
        AtomicLong done = new AtomicLong();
        long until = System.nanoTime() + measure.toNanos();
        List<Thread> threads = new ArrayList<>();
        List<IOException> failures = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int w = 0; w < workers; w++) {
            Thread t = new Thread(() -> {
                try (HttpConnection c = new HttpConnection(port)) {
                    while (System.nanoTime() < until) {
                        byte[] request = requests.next();
                        long start = System.nanoTime();
                        int status = c.send(request);
                        if (status != 202) {
                            throw new IOException("ingest answered " + status);
                        }
                        latency.recordValue((System.nanoTime() - start) / 1000);
                        done.incrementAndGet();
                    }
                } catch (IOException e) {
                    synchronized (failures) {
                        failures.add(e);
                    }
                }
            }, "bench-ingest-" + w);
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        if (!failures.isEmpty()) {
            throw new IllegalStateException("ingest failed during the benchmark: " + failures.get(0).getMessage(), failures.get(0));
        }
        return new Loop(done.get(), (System.nanoTime() - t0) / 1e9, latency.getIntervalHistogram());
    }

    private String event(String id) {
        return "{\"event_id\":\"" + run + "-" + id + "\",\"event_type\":\"purchase\",\"customer_id\":\"c" + (id.hashCode() & 1023)
                + "\",\"invoice\":\"i1\",\"stock_code\":\"85123A\",\"quantity\":2,\"unit_price\":2.55,\"amount\":5.1}";
    }

    private static double millis(Histogram h, double percentile) {
        return h.getValueAtPercentile(percentile) / 1000.0;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
