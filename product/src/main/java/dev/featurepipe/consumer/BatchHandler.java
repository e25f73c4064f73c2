package dev.featurepipe.consumer;

import dev.featurepipe.core.LoggedEvent;
import java.util.List;

/** Writes a batch of events; what it throws is sorted by {@link ErrorPolicy}. */
@FunctionalInterface
public interface BatchHandler {
    void handle(List<LoggedEvent> batch);

    /**
     * Starts on the batch and returns what finishes it: a handler may leave part of its writes running while the
     * consumer goes on to the next batches. {@link Finish#await} throws what {@link #handle} would have.
     */
    default Finish start(List<LoggedEvent> batch) {
        handle(batch);
        return Finish.DONE;
    }

    /**
     * Called before each synchronous attempt at a batch (one handled again, or re-read), when no batch the consumer
     * started is unfinished: nothing should hold this one back for an earlier failure.
     */
    default void resume() {
    }
}
