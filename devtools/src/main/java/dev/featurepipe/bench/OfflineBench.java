package dev.featurepipe.bench;

import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Stores;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.config.Config;
import dev.featurepipe.consumer.StreamConsumer;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.offline.OfflineSink;
import dev.featurepipe.redis.RedisConnections;
import dev.featurepipe.redis.RedisEventLog;
import dev.featurepipe.redis.RedisEventSource;
import dev.featurepipe.redis.Shards;
import dev.featurepipe.redis.StreamGroups;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.HdrHistogram.Histogram;

/**
 * How fast raw events reach ClickHouse, measured in one run:
 * <ol>
 * <li>the sink: the retail events in the stream, read by the offline group in batches of
 * {@code FP_OFFLINE_BATCH_SIZE}, inserted, acknowledged; events/s from full stream to caught up;</li>
 * <li>the baseline: the same rows inserted straight into ClickHouse (RowBinary over HTTP, the same batch size),
 * so the sink's cost is a ratio to the insert itself;</li>
 * <li>event-to-queryable lag at a steady rate, open loop: events appended on a fixed schedule with their time as
 * {@code ts}, a poller asking ClickHouse for the newest {@code ts} every 20 ms; an event's lag is the first poll
 * that sees it minus its time (HdrHistogram).</li>
 * </ol>
 * Both throughput figures are taken after a warm-up run of the first 100,000 events through both paths, so they
 * measure compiled code, as a long-running sink runs. Everything goes to streams and ClickHouse databases of its
 * own, removed at the end.
 * Run: {@code ./fp bench offline [--events N] [--rate R] [--seconds S]}.
 */
public final class OfflineBench {
    /** The figures of one run. */
    public record Result(int events, double sinkEventsPerSecond, double rawInsertEventsPerSecond, int lagEvents,
                         double lagP50Millis, double lagP99Millis, double lagMaxMillis) {
    }

    private static final String PROBE = "lag-probe";
    private static final Duration POLL = Duration.ofMillis(20);
    /** Events the sink and the inserts run before the measured runs, so that the JIT has compiled their code. */
    private static final int WARM_UP_EVENTS = 100_000;

    private final Config config;
    private final Path file;
    private final int eventCount;
    private final int rate;
    private final int seconds;
    private final PrintStream out;
    private final String run = "bench-" + UUID.randomUUID().toString().substring(0, 8);

    public OfflineBench(Config config, Path file, int eventCount, int rate, int seconds, PrintStream out) {
        this.config = config;
        this.file = file;
        this.eventCount = eventCount;
        this.rate = rate;
        this.seconds = seconds;
        this.out = out;
    }

    public Result run() {
        String database = run.replace('-', '_');
        try (Stores stores = new Stores(config)) {
            List<Event> events = BenchData.retailEvents(stores.registry(), file, eventCount);
            try {
                Event template = events.get(0);
                int count = events.size();
                List<Event> warmUp = events.subList(0, Math.min(count, WARM_UP_EVENTS));
                out.printf(Locale.ROOT, "warm-up (not measured): %,d events through the sink and straight into ClickHouse%n",
                        warmUp.size());
                rawInsert(table(stores, database + "_warm_raw"), warmUp);
                sink(stores, table(stores, database + "_warm_sink"), fillStream(stores, warmUp, "warm"),
                        warmUp.size());
                ClickHouseEventTable rawTable = table(stores, database + "_raw");
                out.printf(Locale.ROOT, "baseline: %,d events inserted straight into ClickHouse%n", count);
                double raw = rawInsert(rawTable, events);
                ClickHouseEventTable sinkTable = table(stores, database + "_sink");
                out.printf(Locale.ROOT, "sink: the same events through the stream into ClickHouse%n");
                String stream = fillStream(stores, events, "sink");
                events = null; // the sink runs with the heap a pipeline process would have, not holding the data set
                double sink = sink(stores, sinkTable, stream, count);
                ClickHouseEventTable lagTable = table(stores, database + "_lag");
                out.printf(Locale.ROOT, "lag: %,d events/s for %d s%n", rate, seconds);
                Histogram lag = lag(stores, lagTable, template);
                return new Result(count, sink, raw, (int) lag.getTotalCount(), lag.getValueAtPercentile(50) / 1000.0,
                        lag.getValueAtPercentile(99) / 1000.0, lag.getMaxValue() / 1000.0);
            } finally {
                BenchData.deleteKeys(stores.redis().shared().sync(), run);
                for (String suffix : List.of("_warm_raw", "_warm_sink", "_sink", "_raw", "_lag")) {
                    stores.clickhouse().execute("DROP DATABASE IF EXISTS " + database + suffix);
                }
            }
        }
    }

    private static ClickHouseEventTable table(Stores stores, String database) {
        ClickHouseEventTable table = stores.offlineTable(database);
        table.ensureSchema();
        return table;
    }

    private StreamConsumer sinkConsumer(Stores stores, ClickHouseEventTable table, String stream, Duration maxWait) {
        SimpleMeterRegistry metrics = new SimpleMeterRegistry();
        return stores.consumer(stream, Pipeline.offlineConsumer(config, "bench", maxWait), new OfflineSink(table, stores.numberRule(), metrics),
                metrics).start();
    }

    private String fillStream(Stores stores, List<Event> events, String name) {
        String stream = run + ":" + name;
        RedisConnections redis = stores.redis();
        RedisEventSource.ensureGroup(redis.shared().sync(), stream, OfflineSink.GROUP);
        RedisEventLog log = new RedisEventLog(redis, stores.codec(), Shards.single(stream), Duration.ZERO, Long.MAX_VALUE,
                config.get(Config.STREAM_ENTRY_EVENTS));
        for (int from = 0; from < events.size(); from += 1000) {
            log.append(events.subList(from, Math.min(events.size(), from + 1000)));
        }
        return stream;
    }

    private double sink(Stores stores, ClickHouseEventTable table, String stream, int count) {
        RedisConnections redis = stores.redis();
        System.gc();
        long t0 = System.nanoTime();
        // a full stream gives full batches; not waiting FP_OFFLINE_BATCH_INTERVAL for the last one to fill
        try (StreamConsumer consumer = sinkConsumer(stores, table, stream, Duration.ZERO)) {
            if (!StreamGroups.awaitCaughtUp(redis.shared().sync(), Shards.single(stream), Duration.ofMinutes(10), () -> { })) {
                throw new IllegalStateException("the offline group did not catch up within 10 minutes");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        double eps = count / ((System.nanoTime() - t0) / 1e9);
        long rows = table.countEvents();
        if (rows != count) {
            throw new IllegalStateException("the sink wrote " + rows + " rows for " + count + " events");
        }
        return eps;
    }

    private double rawInsert(ClickHouseEventTable table, List<Event> history) {
        int batch = config.get(Config.OFFLINE_BATCH_SIZE);
        List<LoggedEvent> events = LoggedEvent.asHistory(history);
        long t0 = System.nanoTime();
        for (int from = 0; from < events.size(); from += batch) {
            table.insert(events.subList(from, Math.min(events.size(), from + batch)));
        }
        return events.size() / ((System.nanoTime() - t0) / 1e9);
    }

    /** Appends events at a fixed rate, each stamped with its append time, and times when ClickHouse shows each. */
    private Histogram lag(Stores stores, ClickHouseEventTable table, Event template) {
        String stream = run + ":lag";
        RedisConnections redis = stores.redis();
        RedisEventSource.ensureGroup(redis.shared().sync(), stream, OfflineSink.GROUP);
        RedisEventLog log = new RedisEventLog(redis, stores.codec(), Shards.single(stream), Duration.ZERO, Long.MAX_VALUE,
                config.get(Config.STREAM_ENTRY_EVENTS));
        List<long[]> polls = new CopyOnWriteArrayList<>(); // {poll time, newest ts visible}
        AtomicBoolean polling = new AtomicBoolean(true);
        Thread poller = new Thread(() -> {
            while (polling.get()) {
                String max = table.query("SELECT max(ts) FROM " + ClickHouseEventTable.TABLE + " WHERE entity_id = '" + PROBE
                        + "' FORMAT TabSeparated").trim();
                polls.add(new long[] {System.currentTimeMillis(), Long.parseLong(max)}); // seen by the time the answer came
                sleepUntil(System.nanoTime() + POLL.toNanos());
            }
        }, "bench-lag-poller");
        List<Long> sent = new ArrayList<>();
        int perTick = Math.max(1, rate / 100);
        long tickNanos = 1_000_000_000L * perTick / rate;
        try (StreamConsumer consumer = sinkConsumer(stores, table, stream, config.get(Config.OFFLINE_BATCH_INTERVAL))) {
            poller.start();
            long start = System.nanoTime();
            long ticks = (long) seconds * rate / perTick;
            for (long tick = 0; tick < ticks; tick++) {
                sleepUntil(start + tick * tickNanos); // open loop: the schedule does not wait for anyone
                long now = System.currentTimeMillis();
                List<Event> batch = new ArrayList<>(perTick);
                for (int i = 0; i < perTick; i++) {
                    batch.add(new Event(run + "-" + tick + "-" + i, template.type(), PROBE, now, template.fields()));
                }
                log.append(batch);
                sent.add(now);
            }
            long lastSent = sent.get(sent.size() - 1);
            while (polls.isEmpty() || polls.get(polls.size() - 1)[1] < lastSent) {
                sleepUntil(System.nanoTime() + POLL.toNanos());
            }
        } finally {
            polling.set(false);
        }
        Histogram lag = new Histogram(3_600_000_000L, 3);
        int p = 0;
        for (long ts : sent) {
            while (polls.get(p)[1] < ts) {
                p++;
            }
            lag.recordValueWithCount(Math.max(0, polls.get(p)[0] - ts) * 1000, perTick);
        }
        return lag;
    }

    private static void sleepUntil(long nanoTime) {
        long wait = nanoTime - System.nanoTime();
        if (wait > 0) {
            try {
                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
