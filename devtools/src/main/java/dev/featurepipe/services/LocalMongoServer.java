package dev.featurepipe.services;

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.h2.mvstore.MVStore;

/**
 * The MongoDB stand-in (mongo-java-server, which speaks the wire protocol) used where no real MongoDB answers.
 *
 * <p>As a program ({@code --port N --data FILE [--host H]}), the way {@link LocalServices} runs it: an H2 MVStore
 * file backend, so data persists across restarts; SIGTERM closes the store cleanly. In-process, in memory:
 * {@link #startInProcess(String, int)}. Both find documents by {@code _id} as {@link IdLookupH2Backend} explains.
 */
public final class LocalMongoServer {
    private LocalMongoServer() {
    }

    public static void main(String[] args) throws IOException {
        String host = "127.0.0.1";
        Integer port = null;
        Path data = null;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--host" -> host = value;
                case "--port" -> port = value == null ? null : Integer.valueOf(value);
                case "--data" -> data = value == null ? null : Path.of(value);
                default -> usage("unknown argument " + args[i]);
            }
            i++;
        }
        if (host == null || port == null || data == null) {
            usage("--port and --data are required");
        }
        Path file = data.toAbsolutePath();
        Files.createDirectories(file.getParent());
        H2Backend backend = new IdLookupH2Backend(MVStore.open(file.toString()));
        MongoServer server = new MongoServer(backend);
        try {
            server.bind(host, port);
        } catch (RuntimeException e) {
            System.err.println("LocalMongoServer cannot listen on " + host + ":" + port + ": " + e);
            server.shutdownNow(); // stops the Netty threads bind() may have started, closes the store
            System.exit(1);
        }
        String where = host + ":" + port;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdownNow(); // closes clients, then the backend and its MVStore
            System.out.println("LocalMongoServer on " + where + " stopped, store closed");
        }, "mongo-shutdown"));
        System.out.printf("LocalMongoServer ready on %s (pid %d, data %s)%n",
                where, ProcessHandle.current().pid(), file);
    }

    /**
     * Starts an in-memory server bound to host:port (port 0 picks a free one; see
     * {@link MongoServer#getLocalAddress()}). The caller stops it with {@link MongoServer#shutdownNow()}.
     */
    public static MongoServer startInProcess(String host, int port) {
        MongoServer server = new MongoServer(new IdLookupH2Backend(new MVStore.Builder().open()));
        server.bind(host, port);
        return server;
    }

    private static void usage(String problem) {
        System.err.println(problem);
        System.err.println("usage: LocalMongoServer --port N --data FILE [--host 127.0.0.1]");
        System.exit(2);
    }
}
