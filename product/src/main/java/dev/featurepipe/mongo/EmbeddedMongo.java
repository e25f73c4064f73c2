package dev.featurepipe.mongo;

/**
 * An in-process MongoDB-protocol server for {@code FP_MONGO_URI=embedded}: profiles then live in memory as long as
 * the process. Provided by the development tooling (found with {@link java.util.ServiceLoader}), never started on
 * its own when a configured MongoDB does not answer.
 */
public interface EmbeddedMongo {
    /** The value of FP_MONGO_URI that asks for it. */
    String URI = "embedded";

    /** Starts a server on a free loopback port. */
    Running start();

    /** A started server: where it listens; closing stops it. */
    interface Running extends AutoCloseable {
        String uri();

        @Override
        void close();
    }
}
