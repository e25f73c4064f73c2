package dev.featurepipe.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * Calls at a fixed rate, open loop: call i is due at {@code start + i / rate} whatever became of the calls before
 * it, and its latency is measured from when it was due, so a stall counts against every call it delays (no
 * coordinated omission). Workers take the next due call when they are free; when all are busy, calls wait their
 * turn and that wait is part of their latency.
 */
final class OpenLoop {
    /** One worker's way of making call number i (each worker has its own connection). */
    interface Call {
        void run(long i) throws Exception;
    }

    /** Makes worker w's call, with whatever it needs of its own. */
    interface CallFactory {
        Call open(int worker);
    }

    /** Latencies in microseconds from when each call was due to its end; failed calls counted apart. */
    record Result(int rate, Histogram latencyMicros, long failures, double seconds) {
        double millis(double percentile) {
            return latencyMicros.getValueAtPercentile(percentile) / 1000.0;
        }
    }

    private OpenLoop() {
    }

    /** Parks until {@code nanoTime} (System.nanoTime), however often the park returns early. */
    static void sleepUntil(long nanoTime) {
        for (long wait = nanoTime - System.nanoTime(); wait > 0; wait = nanoTime - System.nanoTime()) {
            LockSupport.parkNanos(wait);
        }
    }

    /** Runs {@code warmUp} unmeasured, then {@code duration} measured, at {@code rate} calls/s. */
    static Result run(int rate, Duration warmUp, Duration duration, int workers, CallFactory calls)
            throws InterruptedException {
        long intervalNanos = 1_000_000_000L / rate;
        long warmCalls = warmUp.toNanos() / intervalNanos;
        long totalCalls = warmCalls + duration.toNanos() / intervalNanos;
        AtomicLong next = new AtomicLong();
        AtomicLong failures = new AtomicLong();
        List<Histogram> histograms = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        List<Call> opened = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            opened.add(calls.open(w));
            histograms.add(new Histogram(60_000_000L, 3));
        }
        long start = System.nanoTime() + 10_000_000L;
        for (int w = 0; w < workers; w++) {
            Call call = opened.get(w);
            Histogram histogram = histograms.get(w);
            Thread t = new Thread(() -> {
                for (long i = next.getAndIncrement(); i < totalCalls; i = next.getAndIncrement()) {
                    long due = start + i * intervalNanos;
                    sleepUntil(due);
                    try {
                        call.run(i);
                        if (i >= warmCalls) {
                            histogram.recordValue(Math.max(0, (System.nanoTime() - due) / 1000));
                        }
                    } catch (Exception e) {
                        failures.incrementAndGet();
                    }
                }
            }, "bench-load-" + w);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        double seconds = (System.nanoTime() - start - warmCalls * intervalNanos) / 1e9;
        Histogram all = new Histogram(60_000_000L, 3);
        histograms.forEach(all::add);
        return new Result(rate, all, failures.get(), seconds);
    }
}
