package dev.featurepipe.consumer;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The consumers of one group in one process: one per shard of the log this process holds. Every third of a lease
 * the process says it is alive, and the live processes of the group, sorted by name, split the shards round-robin
 * (shard s goes to the (s mod n)-th); each holds a lease on its shards and renews it. A shard it no longer gets
 * is drained (written and acknowledged) before its lease is released, and the process it went to takes it at its
 * next round; a process that dies stops renewing, and its shards are taken within a lease and a third. Whoever
 * takes a shard first takes over the entries left pending on it ({@link Shard#start}). Holding a lease is what
 * keeps the work apart, not what keeps it exact: every store is idempotent, so a process that lost its lease
 * while paused and writes a batch again changes nothing.
 */
public final class ShardWorkers implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ShardWorkers.class);

    /** Who is alive and who holds which shard, kept beside the log. */
    public interface Leases {
        /** Says {@code worker} is alive for {@code ttl}; returns every live worker of the group. */
        List<String> heartbeat(String worker, Duration ttl);

        /** Takes or renews the lease of a shard for {@code ttl}; false when another worker holds it. */
        boolean hold(int shard, String worker, Duration ttl);

        /** Gives the lease of a shard up, if {@code worker} holds it. */
        void release(int shard, String worker);

        /** Says {@code worker} is gone, so the others split its shards at once. */
        void leave(String worker);
    }

    /** Starts the consumer of a shard this process now holds. */
    public interface Shard {
        /** Takes over what other consumers of the group left pending on the shard, and starts consuming it. */
        StreamConsumer start(int shard);
    }

    private final String group;
    private final String worker;
    private final int shards;
    private final Leases leases;
    private final Shard starter;
    private final Duration lease;
    private final Duration drainGrace;
    private final Map<Integer, StreamConsumer> held = new TreeMap<>();
    private final AtomicInteger heldCount = new AtomicInteger(); // for the gauge, which must not wait for a drain
    private final ScheduledExecutorService timer;
    private final Counter taken;
    private final Counter released;
    private final Counter lost;
    private final Counter leaseFailures;
    private volatile boolean closed;

    /**
     * @param lease how long a lease lasts unrenewed
     * @param drainGrace how long a shard given up may take to write what its consumer holds
     */
    public ShardWorkers(String group, String worker, int shards, Leases leases, Shard starter, Duration lease,
                        Duration drainGrace, MeterRegistry metrics) {
        this.group = group;
        this.worker = worker;
        this.shards = shards;
        this.leases = leases;
        this.starter = starter;
        this.lease = lease;
        this.drainGrace = drainGrace;
        this.taken = metrics.counter("featurepipe.consumer.shard.moves", "group", group, "change", "taken");
        this.released = metrics.counter("featurepipe.consumer.shard.moves", "group", group, "change", "released");
        this.lost = metrics.counter("featurepipe.consumer.shard.moves", "group", group, "change", "lost");
        this.leaseFailures = metrics.counter("featurepipe.consumer.lease.failures", "group", group);
        metrics.gauge("featurepipe.consumer.shards", Tags.of("group", group), heldCount);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "fp-shards-" + group));
    }

    /** Takes this process's shards now, then keeps the split up to date every third of a lease. */
    public ShardWorkers start() {
        round();
        long every = Math.max(1, lease.toMillis() / 3);
        timer.scheduleWithFixedDelay(this::round, every, every, TimeUnit.MILLISECONDS);
        return this;
    }

    /** The shards {@code worker} gets when these workers are alive: round-robin over them sorted by name. */
    public static List<Integer> assigned(List<String> live, String worker, int shards) {
        List<String> sorted = live.stream().sorted().toList();
        int rank = sorted.indexOf(worker);
        List<Integer> mine = new ArrayList<>();
        for (int s = rank; rank >= 0 && s < shards; s += sorted.size()) {
            mine.add(s);
        }
        return mine;
    }

    private synchronized void round() {
        if (closed) {
            return;
        }
        try {
            List<Integer> wanted = assigned(leases.heartbeat(worker, lease), worker, shards);
            List<Integer> givenUp = new ArrayList<>();
            for (int shard : List.copyOf(held.keySet())) {
                if (!wanted.contains(shard)) {
                    givenUp.add(shard);
                } else if (!leases.hold(shard, worker, lease)) {
                    lost.increment();
                    log.warn("shards {}/{}: lost the lease of shard {} (renewed too late); stopping its consumer",
                            group, worker, shard);
                    stop(shard, drainGrace);
                }
            }
            for (int shard : wanted) {
                if (!held.containsKey(shard) && leases.hold(shard, worker, lease)) {
                    held.put(shard, starter.start(shard));
                    heldCount.set(held.size());
                    taken.increment();
                    log.info("shards {}/{}: took shard {}", group, worker, shard);
                }
            }
            for (int shard : givenUp) { // after the renewals, so a slow drain does not let the others lapse
                stop(shard, drainGrace);
                leases.release(shard, worker);
                released.increment();
                log.info("shards {}/{}: gave shard {} up", group, worker, shard);
            }
        } catch (RuntimeException e) {
            leaseFailures.increment();
            log.warn("shards {}/{}: renewing the leases failed, the consumers go on: {}", group, worker, e.getMessage());
        }
    }

    /** Drains the shard's consumer: what it holds is written and acknowledged, or stays pending for the next. */
    private void stop(int shard, Duration wait) {
        StreamConsumer c = held.remove(shard);
        heldCount.set(held.size());
        c.drain();
        if (!c.awaitEnd(wait)) {
            log.warn("shards {}/{}: shard {} had not written what it holds after {} s; it stays pending",
                    group, worker, shard, drainGrace.toSeconds());
        }
        c.close();
    }

    /** Why a consumer of this group stopped on its own, by shard. */
    public synchronized Map<Integer, String> failures() {
        Map<Integer, String> failed = new LinkedHashMap<>();
        held.forEach((shard, c) -> c.failure().ifPresent(why -> failed.put(shard, why)));
        return failed;
    }

    public String group() {
        return group;
    }

    /** The shards this process holds now. */
    public synchronized List<Integer> shards() {
        return List.copyOf(held.keySet());
    }

    /** The consumer of a shard, while this process holds it. */
    public synchronized Optional<StreamConsumer> consumer(int shard) {
        return Optional.ofNullable(held.get(shard));
    }

    /** Takes no more shards, and tells every consumer to write and acknowledge what it holds, then end. */
    public void drain() {
        timer.shutdownNow();
        synchronized (this) {
            closed = true;
            held.values().forEach(StreamConsumer::drain);
        }
    }

    /**
     * Drains every consumer (waiting up to the drain grace in all), gives the leases up and leaves the group, so
     * the others take the shards at once.
     */
    @Override
    public void close() {
        drain();
        synchronized (this) {
            long deadline = System.nanoTime() + drainGrace.toNanos();
            for (int shard : List.copyOf(held.keySet())) {
                stop(shard, Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
                try {
                    leases.release(shard, worker);
                } catch (RuntimeException e) {
                    log.warn("shards {}/{}: releasing shard {} failed; it is taken when its lease ends: {}", group,
                            worker, shard, e.getMessage());
                }
            }
            try {
                leases.leave(worker);
            } catch (RuntimeException e) {
                log.warn("shards {}/{}: leaving failed; the others split the shards when its lease ends: {}", group,
                        worker, e.getMessage());
            }
        }
    }
}
