package dev.featurepipe.services;

import de.bwaldvogel.mongo.MongoServer;
import dev.featurepipe.mongo.EmbeddedMongo;
import java.net.InetSocketAddress;

/** {@code FP_MONGO_URI=embedded}: the MongoDB-protocol server in this process, in memory, on a free loopback port. */
public final class InProcessEmbeddedMongo implements EmbeddedMongo {
    @Override
    public Running start() {
        MongoServer server = LocalMongoServer.startInProcess("127.0.0.1", 0);
        InetSocketAddress address = server.getLocalAddress();
        String uri = "mongodb://127.0.0.1:" + address.getPort();
        return new Running() {
            @Override
            public String uri() {
                return uri;
            }

            @Override
            public void close() {
                server.shutdownNow();
            }
        };
    }
}
