package dev.featurepipe.mongo;

import com.mongodb.MongoBulkWriteException;
import com.mongodb.MongoConnectionPoolClearedException;
import com.mongodb.MongoException;
import com.mongodb.MongoNodeIsRecoveringException;
import com.mongodb.MongoNotPrimaryException;
import com.mongodb.MongoSocketException;
import com.mongodb.MongoTimeoutException;
import com.mongodb.MongoWriteException;
import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.Secrets;
import dev.featurepipe.core.StoreFailedException;
import dev.featurepipe.core.StoreRejectedException;
import dev.featurepipe.core.StoreUnavailableException;
import java.util.Set;
import org.bson.BSONException;

/** The one place MongoDB's failures become featurepipe's. */
final class MongoErrors {
    /**
     * Server error codes that say "not now": the server unreachable, shutting down or recovering, the primary
     * changed, a time limit exceeded.
     */
    private static final Set<Integer> PASSING = Set.of(6, 7, 50, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436);
    /**
     * Write error codes an event's data causes: a bad or unparsable value, an update of a field holding another type
     * ($inc on a string), an overflow, a document grown past 16 MB, a path that cannot hold the field, an invalid
     * field name, an immutable field, a failed document validation.
     */
    private static final Set<Integer> DATA = Set.of(2, 9, 14, 15, 28, 52, 55, 56, 57, 66, 121, 10334, 17419);

    private MongoErrors() {
    }

    /**
     * A failure of {@code doing}: unavailable when the server cannot be reached or its primary changed; rejected
     * when the event's data caused it; failed (a consumer stops) for anything else, such as a refused login.
     */
    static FeaturepipeException translate(String doing, RuntimeException e) {
        String message = "MongoDB: " + doing + " failed: " + Secrets.redact(e.getMessage());
        if (e instanceof BSONException) {
            return new StoreRejectedException(message, e); // the driver could not encode the update (too large)
        }
        if (!(e instanceof MongoException m)) {
            return new StoreFailedException(message, e);
        }
        if (m instanceof MongoSocketException || m instanceof MongoTimeoutException
                || m instanceof MongoNotPrimaryException || m instanceof MongoNodeIsRecoveringException
                || m instanceof MongoConnectionPoolClearedException || m.hasErrorLabel("RetryableWriteError")
                || PASSING.contains(m.getCode())) {
            return new StoreUnavailableException(message, e);
        }
        int code = m instanceof MongoBulkWriteException b && !b.getWriteErrors().isEmpty() ? b.getWriteErrors().get(0).getCode()
                : m instanceof MongoWriteException w ? w.getError().getCode() : m.getCode();
        if (DATA.contains(code)) {
            return new StoreRejectedException(message, e);
        }
        return PASSING.contains(code) ? new StoreUnavailableException(message, e) : new StoreFailedException(message, e);
    }
}
