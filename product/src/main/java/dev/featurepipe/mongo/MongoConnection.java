package dev.featurepipe.mongo;

import com.mongodb.ConnectionString;
import com.mongodb.MongoClientSettings;
import com.mongodb.MongoException;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoDatabase;
import dev.featurepipe.config.ConfigException;
import java.util.ServiceLoader;
import java.util.concurrent.TimeUnit;
import org.bson.Document;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MongoDB connection of the process. A MongoDB that does not answer is not replaced by anything: profile
 * features are then unavailable and /readyz fails, until it answers. Only {@code FP_MONGO_URI=embedded} starts an
 * in-process MongoDB-protocol server ({@link EmbeddedMongo}, from the development tooling).
 */
public final class MongoConnection implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MongoConnection.class);

    private final MongoClient client;
    private final MongoDatabase database;
    private final EmbeddedMongo.Running embedded;

    private MongoConnection(MongoClient client, String database, EmbeddedMongo.Running embedded) {
        this.client = client;
        this.database = client.getDatabase(database);
        this.embedded = embedded;
    }

    public static MongoConnection open(String uri, String database) {
        if (uri.equals(EmbeddedMongo.URI)) {
            EmbeddedMongo provider = ServiceLoader.load(EmbeddedMongo.class).findFirst().orElseThrow(() ->
                    new ConfigException("FP_MONGO_URI=" + EmbeddedMongo.URI + " needs the development tooling on the class "
                            + "path (./fp has it); give the URI of a MongoDB instead"));
            EmbeddedMongo.Running server = provider.start();
            log.warn("mongo: profiles are kept in memory by an embedded MongoDB-protocol server at {} for as long as "
                    + "this process runs (FP_MONGO_URI=embedded)", server.uri());
            return new MongoConnection(client(new ConnectionString(server.uri())), database, server);
        }
        ConnectionString cs = new ConnectionString(uri);
        MongoClient client = client(cs);
        if (!ping(client)) {
            log.warn("mongo: {} does not answer; profile features are unavailable until it does", cs.getHosts());
        }
        return new MongoConnection(client, database, null);
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

    @Override
    public void close() {
        client.close();
        if (embedded != null) {
            embedded.close();
        }
    }
}
