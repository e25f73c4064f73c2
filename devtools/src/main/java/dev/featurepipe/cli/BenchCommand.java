package dev.featurepipe.cli;

import dev.featurepipe.bench.IngestBench;
import dev.featurepipe.bench.MaterializeBench;
import dev.featurepipe.bench.OfflineBench;
import dev.featurepipe.bench.OnlineBench;
import dev.featurepipe.bench.ScaleBench;
import dev.featurepipe.bench.ServeBench;
import dev.featurepipe.bench.ServeReport;
import dev.featurepipe.bench.TrainingSetBench;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.FeaturepipeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true, subcommands = {BenchCommand.Online.class, BenchCommand.Offline.class,
            BenchCommand.Materialize.class, BenchCommand.TrainingSet.class, BenchCommand.Ingest.class,
            BenchCommand.Scale.class},
        description = {"Benchmarks, run against the local services (started when needed, stopped after).",
            "Without a subcommand: serving at fixed rates against the raw Redis round trip, ingestion, freshness and "
                    + "offline lag, in one run of a JVM that runs every role; a markdown report and a chart under --results."})
final class BenchCommand extends LocalBenchmark {
    @Option(names = "--quick", description = "shorter runs on fewer events, within about 2 minutes")
    boolean quick;

    @Option(names = "--results", defaultValue = "results", description = "directory of the reports, one folder per run "
            + "(relative to the project directory; default: ${DEFAULT-VALUE})")
    Path results;

    @Override
    void run(Config config, Path data) {
        ServeBench.Result r;
        try {
            r = new ServeBench(config, data, quick, System.out).run();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FeaturepipeException("the benchmark was interrupted", e);
        }
        String stamp = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(Instant.now());
        Path report = ServeReport.write(r, machine(), "./fp bench" + (quick ? " --quick" : ""),
                config.home().resolve(results).resolve("bench-" + stamp));
        System.out.println();
        System.out.println("report: " + report);
        System.out.println(ServeReport.lastLine(r));
    }

    /** Cores, processor model and Java of this machine, for the report. */
    private static String machine() {
        String model = "unknown processor";
        try {
            model = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse(model);
        } catch (IOException e) {
            // not Linux: the model stays unknown
        }
        return Runtime.getRuntime().availableProcessors() + " cores (" + model + "), Java " + Runtime.version()
                + ", heap max " + (Runtime.getRuntime().maxMemory() >> 20) + " MB; services on the same machine";
    }

    @Command(name = "online", mixinStandardHelpOptions = true,
            description = "Events/s of the online role on real retail events, Redis calls and commands per event, "
                    + "and a plain pipelined Redis baseline measured in the same run.")
    static final class Online extends LocalBenchmark {
        @Option(names = "--events", defaultValue = "200000", description = "events to apply (default: ${DEFAULT-VALUE})")
        int events;

        @Override
        void run(Config config, Path data) {
            OnlineBench.Result r = new OnlineBench(config, data, events, System.out).run();
            System.out.printf(Locale.ROOT, """

                    online store (apply.lua, batches of %d, %d per call):  %,.0f events/s  (batch p50 %.1f ms, p99 %.1f ms)
                      Redis round trips per event:            %.4f
                      Redis commands per event (in scripts):  %.1f  -> %,.0f commands/s
                      the same, no entity twice in a call:     %.1f  (%,d events)
                      baseline, plain HINCRBYFLOAT pipelined: %,.0f commands/s  (script/baseline %.2f)
                    online consumer (stream -> Redis + MongoDB profiles -> XACK): %,.0f events/s
                    """, config.get(Config.ONLINE_BATCH), config.get(Config.ONLINE_SCRIPT_EVENTS), r.storeEventsPerSecond(), r.batchP50Micros() / 1000.0,
                    r.batchP99Micros() / 1000.0, r.roundTripsPerEvent(), r.commandsPerEvent(), r.scriptCommandsPerSecond(),
                    r.newEntityCommandsPerEvent(), r.newEntityEvents(), r.baselineCommandsPerSecond(), r.scriptCommandsPerSecond() / r.baselineCommandsPerSecond(),
                    r.consumerEventsPerSecond());
            System.out.printf(Locale.ROOT, "bench-online: events=%d store_eps=%.0f consumer_eps=%.0f round_trips_per_event=%.4f"
                            + " commands_per_event=%.1f new_entity_commands_per_event=%.1f baseline_commands_per_s=%.0f"
                            + " ratio=%.2f%n", r.events(),
                    r.storeEventsPerSecond(), r.consumerEventsPerSecond(), r.roundTripsPerEvent(), r.commandsPerEvent(),
                    r.newEntityCommandsPerEvent(),
                    r.baselineCommandsPerSecond(), r.scriptCommandsPerSecond() / r.baselineCommandsPerSecond());
        }
    }

    @Command(name = "offline", mixinStandardHelpOptions = true,
            description = "Events/s of the ClickHouse sink on real retail events, the same rows inserted straight into "
                    + "ClickHouse as the baseline, and event-to-queryable lag at a steady rate.")
    static final class Offline extends LocalBenchmark {
        @Option(names = "--events", defaultValue = "1000000", description = "events for the sink (at most the valid rows of the file; default: ${DEFAULT-VALUE})")
        int events;

        @Option(names = "--rate", defaultValue = "5000", description = "events/s of the lag measurement (default: ${DEFAULT-VALUE})")
        int rate;

        @Option(names = "--seconds", defaultValue = "20", description = "length of the lag measurement (default: ${DEFAULT-VALUE})")
        int seconds;

        @Override
        void run(Config config, Path data) {
            OfflineBench.Result r = new OfflineBench(config, data, events, rate, seconds, System.out).run();
            System.out.printf(Locale.ROOT, """

                    ClickHouse sink (stream -> batches of %d -> INSERT -> XACK): %,.0f events/s (%,d events)
                    baseline, the same rows inserted straight into ClickHouse:   %,.0f events/s (sink/baseline %.2f)
                    event-to-queryable lag at %,d events/s: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%,d events)
                    """, config.get(Config.OFFLINE_BATCH_SIZE), r.sinkEventsPerSecond(), r.events(),
                    r.rawInsertEventsPerSecond(), r.sinkEventsPerSecond() / r.rawInsertEventsPerSecond(), rate,
                    r.lagP50Millis(), r.lagP99Millis(), r.lagMaxMillis(), r.lagEvents());
            System.out.printf(Locale.ROOT, "bench-offline: sink_eps=%.0f raw_insert_eps=%.0f ratio=%.2f lag_p50_ms=%.0f"
                            + " lag_p99_ms=%.0f%n", r.sinkEventsPerSecond(), r.rawInsertEventsPerSecond(),
                    r.sinkEventsPerSecond() / r.rawInsertEventsPerSecond(), r.lagP50Millis(), r.lagP99Millis());
        }
    }

    @Command(name = "materialize", mixinStandardHelpOptions = true,
            description = "A full materialization of every batch feature over the retail events spread across many "
                    + "entities, with a plain pipelined Redis SET baseline measured in the same run.")
    static final class Materialize extends LocalBenchmark {
        @Option(names = "--entities", defaultValue = "1000000", description = "entities (default: ${DEFAULT-VALUE})")
        int entities;

        @Override
        void run(Config config, Path data) {
            List<MaterializeBench.FeatureResult> results = new MaterializeBench(config, data, entities, System.out).run();
            for (MaterializeBench.FeatureResult r : results) {
                System.out.printf(Locale.ROOT, "bench-materialize: feature=%s values=%d seconds=%.1f values_per_s=%.0f"
                                + " write_per_s=%.0f baseline_set_per_s=%.0f ratio=%.2f%n", r.feature(), r.values(), r.seconds(),
                        r.valuesPerSecond(), r.writePerSecond(), r.baselinePerSecond(), r.writePerSecond() / r.baselinePerSecond());
            }
        }
    }

    @Command(name = "training-set", mixinStandardHelpOptions = true,
            description = "A point-in-time training set for random labels over the retail events, with the bare "
                    + "label-to-events join measured in the same run as the baseline.")
    static final class TrainingSet extends LocalBenchmark {
        @Option(names = "--labels", defaultValue = "100000", description = "label rows (default: ${DEFAULT-VALUE})")
        int labels;

        @Option(names = "--features", split = ",", defaultValue = "orders_7d,orders_90d,lines_24h,spend_7d,spend_90d,"
                + "avg_line_90d,distinct_items_90d,last_items,first_seen,cancelled_lines_90d",
                description = "features of the training set (default: ten window and lifetime features of the demo registry)")
        List<String> features;

        @Override
        void run(Config config, Path data) {
            TrainingSetBench.Result r = new TrainingSetBench(config, data, labels, features, System.out).run();
            System.out.printf(Locale.ROOT, "bench-training-set: labels=%d features=%d seconds=%.1f baseline_join_seconds=%.1f"
                    + " ratio=%.2f%n", r.labels(), r.features(), r.seconds(), r.baselineSeconds(), r.seconds() / r.baselineSeconds());
        }
    }

    @Command(name = "ingest", mixinStandardHelpOptions = true,
            description = "What Redis's appendfsync costs ingestion: batched and single-event requests with everysec and "
                    + "with always, switched on the running Redis between alternating runs; the median of the runs. With"
                    + " --wait-replicas N instead: FP_INGEST_WAIT_REPLICAS 0 and N, two ingest pipelines side by side.")
    static final class Ingest extends LocalBenchmark {
        @Option(names = "--runs", defaultValue = "5", description = "runs per mode (default: ${DEFAULT-VALUE})")
        int runs;

        @Option(names = "--seconds", defaultValue = "5", description = "seconds of each of the two loads of a run (default: ${DEFAULT-VALUE})")
        int seconds;

        @Option(names = "--wait-replicas", defaultValue = "0", description = "compare FP_INGEST_WAIT_REPLICAS 0 with"
                + " this many replicas (each master needs them), instead of the appendfsync modes (default: ${DEFAULT-VALUE})")
        int waitReplicas;

        @Override
        void run(Config config, Path data) {
            if (waitReplicas < 0) {
                throw new FeaturepipeException("--wait-replicas must be 0 or more, not " + waitReplicas);
            }
            List<IngestBench.Result> results;
            try {
                results = new IngestBench(config, runs, Duration.ofSeconds(seconds), waitReplicas, System.out).run();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FeaturepipeException("the benchmark was interrupted", e);
            }
            for (IngestBench.Result r : results) {
                System.out.printf(Locale.ROOT, "bench-ingest: %s=%s runs=%d batched_eps=%.0f single_eps=%.0f"
                                + " single_p50_ms=%.2f single_p99_ms=%.2f%n", r.setting(), r.mode(), r.runs(), r.batchedEventsPerSecond(),
                        r.singleEventsPerSecond(), r.singleP50Millis(), r.singleP99Millis());
            }
        }
    }

    @Command(name = "scale", mixinStandardHelpOptions = true,
            description = "Ingest and online/offline throughput with 1, 2 and 4 stream shards and 1 and 2 processes per role"
                    + " (separate ./fp run processes), and the CPU time per event of every process from /proc; with"
                    + " --redis-cluster on a local Redis Cluster.")
    static final class Scale extends LocalBenchmark {
        @Option(names = "--events", defaultValue = "100000", description = "retail events per shape (default: ${DEFAULT-VALUE})")
        int events;

        @Override
        void run(Config config, Path data) {
            Path logs = config.path(Config.DATA_DIR).resolve("bench-scale");
            List<ScaleBench.Row> rows;
            try {
                Files.createDirectories(logs);
                rows = new ScaleBench(config, data, events, services.status(), ChaosCommand.runningJar("fp bench scale"),
                        logs, System.out).run();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FeaturepipeException("the benchmark was interrupted", e);
            } catch (IOException e) {
                throw new FeaturepipeException("cannot create " + logs + ": " + e.getMessage(), e);
            }
            System.out.println();
            System.out.println("| shards | processes per role | ingest events/s | online events/s | offline events/s"
                    + " | CPU µs per event: all | " + String.join(" | ", rows.get(0).cpuPerEvent().keySet()) + " |");
            System.out.println("|---|---|---|---|---|---|" + "---|".repeat(rows.get(0).cpuPerEvent().size()));
            for (ScaleBench.Row r : rows) {
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "| %d | %d | %,.0f | %,.0f | %,.0f | %.0f |",
                        r.shards(), r.workers(), r.ingestEps(), r.onlineEps(), r.offlineEps(), r.totalCpuPerEvent()));
                r.cpuPerEvent().values().forEach(us -> line.append(String.format(Locale.ROOT, " %.0f |", us)));
                System.out.println(line);
            }
        }
    }
}
