package dev.featurepipe.consumer;

import dev.featurepipe.core.StoreTimeoutException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** The rest of a started batch. */
public interface Finish {
    /**
     * The longest {@link #await} waits: far beyond what the stores' own timeouts let one write take, so only work
     * that is stuck reaches it, and the batch is then handled again behind it.
     */
    Duration MAX_WAIT = Duration.ofMinutes(2);

    Finish DONE = new Finish() {
        @Override
        public void await() {
        }

        @Override
        public boolean isDone() {
            return true;
        }
    };

    /** Waits until the batch is written; throws why it is not. */
    void await();

    /** Whether {@link #await} would return (or throw) at once. */
    boolean isDone();

    /** The rest that {@code done} completes; its failure is thrown as the work threw it, an Error included. */
    static Finish of(CompletableFuture<?> done) {
        return new Finish() {
            @Override
            public void await() {
                try {
                    done.get(MAX_WAIT.toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof RuntimeException r) {
                        throw r; // as thrown, so the error policy sees the store's own exception
                    }
                    if (e.getCause() instanceof Error r) {
                        throw r;
                    }
                    throw new IllegalStateException(e.getCause());
                } catch (TimeoutException e) {
                    throw new StoreTimeoutException("the rest of a batch did not finish within " + MAX_WAIT.toSeconds() + " s");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new StoreTimeoutException("interrupted while waiting for the rest of a batch");
                }
            }

            @Override
            public boolean isDone() {
                return done.isDone();
            }
        };
    }
}
