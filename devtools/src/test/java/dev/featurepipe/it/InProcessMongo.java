package dev.featurepipe.it;

import com.mongodb.ConnectionString;
import com.mongodb.MongoClientSettings;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoDatabase;
import com.mongodb.event.CommandListener;
import de.bwaldvogel.mongo.MongoServer;
import dev.featurepipe.services.LocalMongoServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;

/** The embedded MongoDB-protocol server in this JVM, on a free loopback port, with a real driver's client. */
public final class InProcessMongo implements AutoCloseable {
    private final MongoServer server;
    private final MongoClient client;

    public InProcessMongo() {
        this(null);
    }

    /** @param listener sees every command the client sends; null for none */
    public InProcessMongo(CommandListener listener) {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server = LocalMongoServer.startInProcess("127.0.0.1", port);
        MongoClientSettings.Builder settings = MongoClientSettings.builder()
                .applyConnectionString(new ConnectionString("mongodb://127.0.0.1:" + port));
        client = MongoClients.create(listener == null ? settings.build() : settings.addCommandListener(listener).build());
    }

    public MongoDatabase database(String name) {
        return client.getDatabase(name);
    }

    @Override
    public void close() {
        client.close();
        server.shutdownNow();
    }
}
