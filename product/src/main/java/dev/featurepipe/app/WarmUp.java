package dev.featurepipe.app;

import dev.featurepipe.serve.FeatureService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs the serving read paths once in the background ({@link FeatureService#warmUp}); /readyz waits for it. */
final class WarmUp implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WarmUp.class);

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
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        thread.interrupt();
    }
}
