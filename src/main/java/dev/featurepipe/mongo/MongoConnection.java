package dev.featurepipe.mongo;

import com.mongodb.ConnectionString;
import com.mongodb.MongoClientSettings;
import com.mongodb.MongoException;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoDatabase;
import dev.featurepipe.core.StoreUnavailableException;
import dev.featurepipe.services.LocalMongoServer;
import dev.featurepipe.services.MongoAddress;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.concurrent.TimeUnit;
import org.bson.Document;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MongoDB connection of the process. When nothing answers at a loopback address, the embedded
 * MongoDB-protocol server is started there in this process (profiles then live as long as it does).
 */
public final class MongoConnection implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MongoConnection.class);

    private final MongoClient client;
    private final MongoDatabase database;
    private final AutoCloseable embedded;

    private MongoConnection(MongoClient client, String database, AutoCloseable embedded) {
        this.client = client;
        this.database = client.getDatabase(database);
        this.embedded = embedded;
    }

    public static MongoConnection open(String uri, String database) {
        ConnectionString cs = new ConnectionString(uri);
        AutoCloseable embedded = null;
        MongoClient client = client(cs);
        if (!ping(client)) {
            client.close();
            MongoAddress address = MongoAddress.of(cs).filter(a -> isLoopback(a.host())).orElseThrow(() ->
                    new StoreUnavailableException("MongoDB at " + uri + " does not answer", null));
            log.info("mongo: nothing answers at {}:{}; starting the embedded MongoDB-protocol server there",
                    address.host(), address.port());
            var server = LocalMongoServer.startInProcess(address.host(), address.port());
            embedded = server::shutdownNow;
            client = client(cs);
        }
        return new MongoConnection(client, database, embedded);
    }

    private static MongoClient client(ConnectionString cs) {
        // the defaults first: what the connection string says (serverSelectionTimeoutMS, connectTimeoutMS,
        // socketTimeoutMS) overrides them
        return MongoClients.create(MongoClientSettings.builder()
                .applyToClusterSettings(b -> b.serverSelectionTimeout(2, TimeUnit.SECONDS))
                .applyToSocketSettings(b -> b.connectTimeout(2, TimeUnit.SECONDS).readTimeout(10, TimeUnit.SECONDS))
                .applyConnectionString(cs)
                .build());
    }

    public MongoDatabase database() {
        return database;
    }

    /** Whether the server answers a ping now. */
    public boolean ping() {
        return ping(client);
    }

    private static boolean ping(MongoClient client) {
        try {
            client.getDatabase("admin").runCommand(new Document("ping", 1));
            return true;
        } catch (MongoException e) {
            return false;
        }
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    @Override
    public void close() {
        client.close();
        if (embedded != null) {
            try {
                embedded.close();
            } catch (Exception e) {
                log.warn("mongo: stopping the embedded server failed: {}", e.getMessage());
            }
        }
    }
}
