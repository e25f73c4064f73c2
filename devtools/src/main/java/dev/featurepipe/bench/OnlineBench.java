package dev.featurepipe.bench;

import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Stores;
import dev.featurepipe.config.Config;
import dev.featurepipe.consumer.StreamConsumer;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.online.OnlineConsumer;
import dev.featurepipe.redis.RedisConnections;
import dev.featurepipe.redis.RedisEventLog;
import dev.featurepipe.redis.RedisEventSource;
import dev.featurepipe.redis.RedisOnlineStore;
import dev.featurepipe.redis.Shards;
import dev.featurepipe.redis.StreamGroups;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.HdrHistogram.Histogram;

/**
 * How fast the online role applies real events (the UCI Online Retail rows, as the demo maps them) on this
 * machine, measured three ways in one run:
 * <ol>
 * <li>the online store alone: batches of {@code FP_ONLINE_BATCH} events through {@code apply.lua}, with the Redis
 * round trips and the Redis commands each event costs (from INFO commandstats); and the commands per event when
 * no two events of a call are of one entity (each customer's first, second and third event, a round at a time:
 * the first new to Redis too, the others not);</li>
 * <li>the baseline: the same number of plain {@code HINCRBYFLOAT} commands, pipelined, on the same Redis, so the
 * script's cost is a ratio to what Redis does anyway;</li>
 * <li>the whole online consumer: events in the stream, read by the consumer group, applied to Redis and to the
 * MongoDB profiles, acknowledged.</li>
 * </ol>
 * Everything is written under a key prefix and a MongoDB database of its own, removed at the end.
 * Run: {@code ./fp bench online [--events N]}.
 */
public final class OnlineBench {
    /** The figures of one run. */
    public record Result(int events, double storeEventsPerSecond, double roundTripsPerEvent, double commandsPerEvent,
                         double scriptCommandsPerSecond, double baselineCommandsPerSecond, double consumerEventsPerSecond,
                         long batchP50Micros, long batchP99Micros, int newEntityEvents, double newEntityCommandsPerEvent) {
    }

    private final Config config;
    private final Path file;
    private final int eventCount;
    private final int scriptEvents;
    private final PrintStream out;
    private final String run = "bench-" + UUID.randomUUID().toString().substring(0, 8);

    public OnlineBench(Config config, Path file, int eventCount, PrintStream out) {
        this.config = config;
        this.file = file;
        this.eventCount = eventCount;
        this.scriptEvents = config.get(Config.ONLINE_SCRIPT_EVENTS);
        this.out = out;
    }

    public Result run() {
        int batch = config.get(Config.ONLINE_BATCH);
        try (Stores stores = new Stores(config.with(Map.of(Config.MONGO_DATABASE, run.replace('-', '_'))))) {
            List<Event> events = BenchData.retailEvents(stores.registry(), file, eventCount);
            RedisConnections redis = stores.redis();
            RedisClusterCommands<String, String> sync = redis.shared().sync();
            try {
                out.printf(Locale.ROOT, "online store: %,d events in batches of %d, %d per script call%n", events.size(), batch,
                        scriptEvents);
                Map<String, Long> before = commandStats(sync);
                Histogram batchMicros = new Histogram(3_600_000_000L, 3);
                RedisOnlineStore store = stores.onlineStore(run + ":a", Clock.systemUTC());
                long t0 = System.nanoTime();
                for (int from = 0; from < events.size(); from += batch) {
                    long b0 = System.nanoTime();
                    store.apply(logged(events.subList(from, Math.min(events.size(), from + batch))));
                    batchMicros.recordValue((System.nanoTime() - b0) / 1000);
                }
                double storeSeconds = (System.nanoTime() - t0) / 1e9;
                Map<String, Long> after = commandStats(sync);
                long scripts = after.getOrDefault("evalsha", 0L) - before.getOrDefault("evalsha", 0L);
                long commands = scriptCommands(before, after);
                List<List<LoggedEvent>> rounds = entityRounds(events, 3);
                RedisOnlineStore rounded = stores.onlineStore(run + ":n", Clock.systemUTC());
                Map<String, Long> beforeRounds = commandStats(sync);
                int roundEvents = 0;
                for (List<LoggedEvent> round : rounds) {
                    rounded.apply(round);
                    roundEvents += round.size();
                }
                long roundCommands = scriptCommands(beforeRounds, commandStats(sync));
                out.printf(Locale.ROOT, "no entity twice in a call: %,d events, each customer's first %d%n", roundEvents, rounds.size());
                double baseline = baseline(redis, commands, batch);
                out.printf(Locale.ROOT, "online consumer: the same events through the stream, Redis and MongoDB%n");
                double consumer = consumer(stores, events);
                return new Result(events.size(), events.size() / storeSeconds, (double) scripts / events.size(),
                        (double) commands / events.size(), commands / storeSeconds, baseline, consumer,
                        batchMicros.getValueAtPercentile(50), batchMicros.getValueAtPercentile(99), roundEvents,
                        (double) roundCommands / roundEvents);
            } finally {
                BenchData.deleteKeys(sync, run);
                stores.mongo().database().drop();
            }
        }
    }

    /** The commands Redis ran inside scripts between two readings of INFO commandstats. */
    private static long scriptCommands(Map<String, Long> before, Map<String, Long> after) {
        long commands = 0;
        for (Map.Entry<String, Long> e : after.entrySet()) {
            if (!e.getKey().equals("evalsha") && !e.getKey().equals("info")) {
                commands += e.getValue() - before.getOrDefault(e.getKey(), 0L);
            }
        }
        return commands;
    }

    /** Per round r below {@code count}, the r-th event of each entity that has one: no entity twice in a round. */
    private static List<List<LoggedEvent>> entityRounds(List<Event> events, int count) {
        Map<String, Integer> seen = new HashMap<>();
        List<List<LoggedEvent>> rounds = new ArrayList<>();
        for (int r = 0; r < count; r++) {
            rounds.add(new ArrayList<>());
        }
        for (int i = 0; i < events.size(); i++) {
            int r = seen.merge(events.get(i).entityId(), 1, Integer::sum) - 1;
            if (r < count) {
                rounds.get(r).add(new LoggedEvent("2-" + i, events.get(i)));
            }
        }
        return rounds;
    }

    private static List<LoggedEvent> logged(List<Event> events) {
        List<LoggedEvent> logged = new ArrayList<>(events.size());
        for (int i = 0; i < events.size(); i++) {
            logged.add(new LoggedEvent("1-" + i, events.get(i)));
        }
        return logged;
    }

    /** Plain HINCRBYFLOAT commands/s with {@code depth} in flight, as many as the script ran. */
    private double baseline(RedisConnections redis, long commands, int depth) {
        RedisClusterAsyncCommands<String, String> async = redis.shared().async();
        long n = Math.max(commands, 100_000);
        long t0 = System.nanoTime();
        List<RedisFuture<Double>> inFlight = new ArrayList<>(depth);
        try {
            for (long i = 0; i < n; i++) {
                inFlight.add(async.hincrbyfloat(run + ":raw:" + (i % 1000), "f" + (i % 50), 1.5));
                if (inFlight.size() == depth) {
                    for (RedisFuture<Double> f : inFlight) {
                        f.get(10, TimeUnit.SECONDS);
                    }
                    inFlight.clear();
                }
            }
            for (RedisFuture<Double> f : inFlight) {
                f.get(10, TimeUnit.SECONDS);
            }
        } catch (ExecutionException | TimeoutException e) {
            throw redis.failure("the baseline", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw redis.failure("the baseline", e);
        }
        return n / ((System.nanoTime() - t0) / 1e9);
    }

    /** Events/s of the online consumer group, from a stream holding all events to caught up. */
    private double consumer(Stores stores, List<Event> events) {
        String stream = run + ":b";
        RedisConnections redis = stores.redis();
        RedisEventSource.ensureGroup(redis.shared().sync(), stream, OnlineConsumer.GROUP);
        // no dedupe and no bound: the stream holds the whole data set before the consumer starts
        RedisEventLog log = new RedisEventLog(redis, stores.codec(), Shards.single(stream), Duration.ZERO, Long.MAX_VALUE,
                config.get(Config.STREAM_ENTRY_EVENTS));
        for (int from = 0; from < events.size(); from += 1000) {
            log.append(events.subList(from, Math.min(events.size(), from + 1000)));
        }
        SimpleMeterRegistry metrics = new SimpleMeterRegistry();
        long t0 = System.nanoTime();
        try (OnlineConsumer handler = new OnlineConsumer(stores.onlineStore(stream, Clock.systemUTC()), stores.profileStore(),
                stores.numberRule(), metrics, config.get(Config.ONLINE_BATCH));
             StreamConsumer consumer = stores.consumer(stream, Pipeline.onlineConsumer(config, "bench"), handler, metrics).start()) {
            while (!StreamGroups.status(redis.shared().sync(), stream).stream().allMatch(StreamGroups.GroupStatus::caughtUp)) {
                Thread.sleep(20);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return events.size() / ((System.nanoTime() - t0) / 1e9);
    }

    /** Calls per command so far (INFO commandstats). */
    private static Map<String, Long> commandStats(RedisClusterCommands<String, String> redis) {
        Map<String, Long> calls = new HashMap<>();
        for (String line : redis.info("commandstats").split("\r?\n")) {
            if (line.startsWith("cmdstat_")) {
                String name = line.substring("cmdstat_".length(), line.indexOf(':'));
                String stats = line.substring(line.indexOf(':') + 1);
                calls.put(name, Long.parseLong(stats.substring("calls=".length(), stats.indexOf(','))));
            }
        }
        return calls;
    }
}
