package dev.featurepipe.services;

import com.mongodb.ConnectionString;
import com.mongodb.MongoClientSettings;
import com.mongodb.MongoException;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.bson.Document;

/**
 * No mongod can be installed here: {@link LocalMongoServer} (mongo-java-server, H2 MVStore file) in a detached JVM
 * of its own, so it outlives the JVM that started it.
 */
final class MongoLocal implements LocalServer {
    private final ConnectionString uri;
    private final String host;
    private final int port;
    private final Path dir;

    MongoLocal(String mongoUri, Path dir) {
        this.uri = new ConnectionString(mongoUri);
        Optional<MongoAddress> address = MongoAddress.of(uri);
        // several hosts or SRV: cannot be started locally, but answers() still works
        this.host = address.map(MongoAddress::host).orElse(String.join(",", uri.getHosts()));
        this.port = address.map(MongoAddress::port).orElse(-1);
        this.dir = dir;
    }

    @Override public String name() { return "mongo"; }
    @Override public String host() { return host; }
    @Override public int port() { return port; }
    @Override public String address() { return port < 0 ? host : host + ":" + port; }
    @Override public String executable() { return null; }
    @Override public List<String> packages() { return List.of(); }
    @Override public String processHint() { return LocalMongoServer.class.getSimpleName(); }
    @Override public Path dir() { return dir; }
    @Override public Path pidFile() { return dir.resolve("mongo.pid"); }
    @Override public Path logFile() { return dir.resolve("mongo.log"); }

    Path dataFile() {
        return dir.resolve("profiles.mv");
    }

    /** A TCP connect first (refused at once when nothing listens), then a real {@code ping} through the driver. */
    @Override
    public boolean answers() {
        if (port > 0) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(host, port), 300);
            } catch (IOException e) {
                return false;
            }
        }
        MongoClientSettings settings = MongoClientSettings.builder()
                .applyConnectionString(uri)
                .applyToClusterSettings(b -> b.serverSelectionTimeout(1000, TimeUnit.MILLISECONDS))
                .applyToSocketSettings(b -> b.connectTimeout(500, TimeUnit.MILLISECONDS)
                        .readTimeout(2000, TimeUnit.MILLISECONDS))
                .build();
        try (MongoClient client = MongoClients.create(settings)) {
            Document reply = client.getDatabase("admin").runCommand(new Document("ping", 1));
            return reply.get("ok") instanceof Number ok && ok.doubleValue() == 1.0;
        } catch (MongoException e) {
            return false;
        }
    }

    @Override
    public void start(Path executable) throws IOException {
        List<String> command = new ArrayList<>();
        Path setsid = Path.of("/usr/bin/setsid");
        if (Files.isExecutable(setsid)) {
            command.add(setsid.toString()); // own session: a Ctrl-C in the starting terminal does not reach it
        }
        command.addAll(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                LocalMongoServer.class.getName(),
                "--host", host,
                "--port", String.valueOf(port),
                "--data", dataFile().toString()));
        ProcessBuilder pb = new ProcessBuilder(command);
        // The class path goes in CLASSPATH, not -cp: it is long, ProcessHandle.Info cuts command lines at 4 KiB,
        // and the main class must stay visible there (and in ps) to tell that this pid is ours.
        pb.environment().put("CLASSPATH", System.getProperty("java.class.path"));
        Process p = pb
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile().toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        // setsid execs in place (a child of this JVM is never a process group leader), so the pid is the JVM's.
        Files.writeString(pidFile(), p.pid() + "\n");
    }
}
