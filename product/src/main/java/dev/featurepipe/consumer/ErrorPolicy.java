package dev.featurepipe.consumer;

import dev.featurepipe.core.EventCodec;
import dev.featurepipe.core.StoreRejectedException;
import dev.featurepipe.core.StoreUnavailableException;

/**
 * The one rule for what a consumer does when something fails. Each store's adapter translates its own errors into
 * featurepipe's exceptions in one place; this sorts those into three outcomes.
 */
public final class ErrorPolicy {
    private ErrorPolicy() {
    }

    public enum Outcome {
        /** a store is unavailable: the same work is tried again with backoff, never skipped */
        RETRIABLE,
        /** this event's data cannot be applied: it goes to the dead-letter stream with the reason, the rest goes on */
        POISON,
        /** anything unexpected (a bug, a misconfiguration): the consumer stops and acknowledges nothing more */
        FATAL
    }

    public static Outcome of(Throwable failure) {
        if (failure instanceof StoreUnavailableException) {
            return Outcome.RETRIABLE;
        }
        if (failure instanceof StoreRejectedException || failure instanceof EventCodec.MalformedEventException) {
            return Outcome.POISON;
        }
        return Outcome.FATAL;
    }
}
