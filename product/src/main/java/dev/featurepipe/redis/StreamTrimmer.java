package dev.featurepipe.redis;

import io.lettuce.core.XTrimArgs;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the event streams bounded without ever dropping an unprocessed event: every interval it trims each shard's
 * stream (XTRIM MINID) below the oldest entry that some consumer group has not acknowledged yet, that is below the
 * lowest pending id, or the last delivered id, of every group. With no group it trims nothing. It also publishes
 * what it reads, summed over the shards: the streams' length, each group's pending entries and lag, and the
 * number of dead letters.
 */
public final class StreamTrimmer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StreamTrimmer.class);

    private final RedisConnections redis;
    private final Shards shards;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "fp-stream-trimmer"));
    private final AtomicLong length = new AtomicLong();
    private final AtomicLong deadLetters = new AtomicLong();
    private final Map<String, GroupGauges> groups = new ConcurrentHashMap<>();
    private final MeterRegistry metrics;
    private final Counter trimmed;
    private final Counter failures;

    /** What the trimmer last read of one group: entries delivered and not acknowledged, entries not delivered yet. */
    private record GroupGauges(AtomicLong pending, AtomicLong lag) {
    }

    public StreamTrimmer(RedisConnections redis, Shards shards, Duration interval, MeterRegistry metrics) {
        this.redis = redis;
        this.shards = shards;
        this.metrics = metrics;
        this.trimmed = metrics.counter("featurepipe.stream.trimmed");
        this.failures = metrics.counter("featurepipe.stream.trim.failures");
        metrics.gauge("featurepipe.stream.length", length);
        metrics.gauge("featurepipe.stream.dead.letters", deadLetters);
        timer.scheduleWithFixedDelay(this::trimSafely, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void trimSafely() {
        try {
            trim();
        } catch (RuntimeException e) {
            failures.increment();
            log.warn("trimmer: trimming {} failed: {}", shards, e.toString());
        } catch (Error e) {
            // a scheduled task's Error would only end the schedule, silently: hand it to the thread's handler
            Thread self = Thread.currentThread();
            self.getUncaughtExceptionHandler().uncaughtException(self, e);
            throw e;
        }
    }

    /** Trims once; returns how many entries were removed. */
    public long trim() {
        RedisClusterCommands<String, String> sync = redis.shared().sync();
        long removed = 0;
        long entries = 0;
        long letters = 0;
        Map<String, long[]> byGroup = new HashMap<>(); // pending, lag (-1 when some shard cannot tell)
        for (String stream : shards.streams()) {
            List<StreamGroups.GroupStatus> status = StreamGroups.status(sync, stream);
            Optional<String> minId = oldestUnacknowledged(sync, stream, status);
            long fromShard = minId.map(id -> sync.xtrim(stream, XTrimArgs.Builder.minId(id))).orElse(0L);
            trimmed.increment(fromShard);
            removed += fromShard;
            entries += sync.xlen(stream);
            letters += sync.xlen(StreamKeys.deadLetters(stream));
            for (StreamGroups.GroupStatus g : status) {
                long[] sum = byGroup.computeIfAbsent(g.name(), name -> new long[2]);
                sum[0] += g.pending();
                sum[1] = sum[1] < 0 || g.lag() == null ? -1 : sum[1] + g.lag();
            }
        }
        length.set(entries);
        deadLetters.set(letters);
        byGroup.forEach(this::publish);
        return removed;
    }

    private void publish(String group, long[] pendingAndLag) {
        GroupGauges g = groups.computeIfAbsent(group, name -> {
            GroupGauges gauges = new GroupGauges(new AtomicLong(), new AtomicLong(-1));
            Gauge.builder("featurepipe.stream.group.pending", gauges.pending(), AtomicLong::get).tag("group", name)
                    .description("entries delivered to the group and not acknowledged").register(metrics);
            Gauge.builder("featurepipe.stream.group.lag", gauges.lag(), AtomicLong::get).tag("group", name)
                    .description("entries not delivered to the group yet (-1: Redis cannot tell)").register(metrics);
            return gauges;
        });
        g.pending().set(pendingAndLag[0]);
        g.lag().set(pendingAndLag[1]);
    }

    /** The smallest id any group still needs: its lowest pending id, or else its last delivered id. */
    private static Optional<String> oldestUnacknowledged(RedisClusterCommands<String, String> sync, String stream,
                                                         List<StreamGroups.GroupStatus> groups) {
        String min = null;
        for (StreamGroups.GroupStatus g : groups) {
            String lowestPending = g.pending() > 0 ? sync.xpending(stream, g.name()).getMessageIds().getLower().getValue() : null;
            // no pending entry (or none left since the status was read): all up to the last delivered is acknowledged
            String needed = lowestPending != null ? lowestPending : g.lastDelivered();
            if (min == null || compareIds(needed, min) < 0) {
                min = needed;
            }
        }
        return Optional.ofNullable(min).filter(id -> !id.equals("0-0"));
    }

    static int compareIds(String a, String b) {
        int da = a.indexOf('-');
        int db = b.indexOf('-');
        int c = Long.compare(Long.parseLong(a.substring(0, da)), Long.parseLong(b.substring(0, db)));
        return c != 0 ? c : Long.compare(Long.parseLong(a.substring(da + 1)), Long.parseLong(b.substring(db + 1)));
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
