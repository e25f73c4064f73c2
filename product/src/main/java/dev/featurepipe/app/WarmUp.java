package dev.featurepipe.app;

import dev.featurepipe.serve.FeatureService;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the serving read paths once in the background ({@link FeatureService#warmUp}); /readyz waits for it. Then,
 * once the stores hold a profile, once more on it ({@link FeatureService#warmUpOnData}).
 */
final class WarmUp implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WarmUp.class);
    private static final Duration DATA_POLL = Duration.ofSeconds(1);

    private final FeatureService service;
    private final Thread thread;
    private volatile boolean done;

    WarmUp(FeatureService service) {
        this.service = service;
        this.thread = new Thread(this::run, "fp-serve-warm-up");
        thread.setDaemon(true);
    }

    WarmUp start() {
        thread.start();
        return this;
    }

    boolean done() {
        return done;
    }

    private void run() {
        long t0 = System.nanoTime();
        try {
            service.warmUp();
            done = true;
            log.info("serve: read paths warm after {} ms", (System.nanoTime() - t0) / 1_000_000);
            while (!service.warmUpOnData()) {
                Thread.sleep(DATA_POLL.toMillis()); // until a first profile exists
            }
            log.info("serve: read paths warm on stored data after {} ms", (System.nanoTime() - t0) / 1_000_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        thread.interrupt();
    }
}
