package dev.featurepipe.app;

import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

/**
 * The stores' checks of /readyz, run at once and bounded in time: a store that has not answered within the bound is
 * not ready, and /readyz answers anyway, rather than after the store client's own timeout (10 s for Redis, 60 s for
 * ClickHouse) while holding a request slot. A store's check still running from an earlier call is waited for again,
 * not started twice, so a stalled store never piles up threads.
 */
final class StoreChecks implements AutoCloseable {
    private final Map<String, BooleanSupplier> checks;
    private final Duration bound;
    private final MeterRegistry metrics;
    private final Map<String, CompletableFuture<Boolean>> running = new ConcurrentHashMap<>();
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fp-readiness");
        t.setDaemon(true);
        return t;
    });

    StoreChecks(Map<String, BooleanSupplier> checks, Duration bound, MeterRegistry metrics) {
        this.checks = checks;
        this.bound = bound;
        this.metrics = metrics;
    }

    /** Per store, in the order the checks were given, whether it answered within the bound. */
    Map<String, Boolean> check() {
        Map<String, CompletableFuture<Boolean>> started = new LinkedHashMap<>();
        checks.forEach((name, check) -> started.put(name, running.compute(name, (n, previous) ->
                previous == null || previous.isDone() ? CompletableFuture.supplyAsync(check::getAsBoolean, threads) : previous)));
        long deadline = System.nanoTime() + bound.toNanos();
        Map<String, Boolean> answers = new LinkedHashMap<>();
        started.forEach((name, answer) -> answers.put(name, within(name, answer, deadline)));
        return answers;
    }

    private boolean within(String store, CompletableFuture<Boolean> answer, long deadline) {
        try {
            return answer.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            metrics.counter("featurepipe.readiness.timeouts", "store", store).increment();
            return false;
        } catch (ExecutionException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Override
    public void close() {
        threads.shutdownNow();
    }
}
