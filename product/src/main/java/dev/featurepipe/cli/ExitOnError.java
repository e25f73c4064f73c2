package dev.featurepipe.cli;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a thread that ends by an uncaught failure does to the process: an {@link Error} (an OutOfMemoryError, a
 * StackOverflowError) leaves it in a state nothing should be trusted to, so it exits at once, with status 70, for a
 * supervisor to restart it; anything else is logged.
 */
final class ExitOnError implements Thread.UncaughtExceptionHandler {
    private static final Logger log = LoggerFactory.getLogger(ExitOnError.class);
    static final int STATUS = 70;

    @Override
    public void uncaughtException(Thread thread, Throwable failure) {
        if (failure instanceof Error) {
            log.error("fatal: thread {} ended by {}; the process exits with status {}", thread.getName(), failure, STATUS, failure);
            Runtime.getRuntime().halt(STATUS); // shutdown hooks could wait forever on the thread that failed
        }
        log.error("thread {} ended by {}", thread.getName(), failure, failure);
    }
}
