package dev.featurepipe.services;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A real ZooKeeper (Debian's {@code zookeeper} package, 3.8 on bookworm), standalone, for the replicated tables of a
 * local ClickHouse cluster: the package's jar in a JVM of its own (the package's launcher reads the system's
 * configuration), loopback only, no admin server, data under the data dir.
 */
final class ZooKeeperLocal implements LocalServer {
    private static final String JAR = "/usr/share/java/zookeeper.jar";
    private static final String MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain";
    private final String host;
    private final int port;
    private final Path dir;

    ZooKeeperLocal(String host, int port, Path dir) {
        this.host = host;
        this.port = port;
        this.dir = dir;
    }

    @Override public String name() { return "zookeeper"; }
    @Override public String host() { return host; }
    @Override public int port() { return port; }
    /** The package's launcher: installed with the jar this runs. */
    @Override public String executable() { return "/usr/share/zookeeper/bin/zkServer.sh"; }
    @Override public List<String> packages() { return List.of("zookeeper"); }
    @Override public String processHint() { return MAIN; }
    @Override public Path dir() { return dir; }
    @Override public Path pidFile() { return dir.resolve("zookeeper.pid"); }
    @Override public Path logFile() { return dir.resolve("zookeeper.log"); }

    /** The four-letter command {@code ruok} (allowed in its config) answers {@code imok}. */
    @Override
    public boolean answers() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), 500);
            s.setSoTimeout(1000);
            s.getOutputStream().write("ruok".getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readNBytes(4), StandardCharsets.US_ASCII).equals("imok");
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void start(Path executable) throws IOException {
        Path config = dir.resolve("zoo.cfg");
        Files.writeString(config, """
                # Written by featurepipe LocalServices at each start; edits are overwritten.
                tickTime=2000
                dataDir=%s
                clientPort=%d
                clientPortAddress=%s
                admin.enableServer=false
                4lw.commands.whitelist=ruok
                """.formatted(dir.resolve("data").toAbsolutePath(), port, host));
        List<String> command = new ArrayList<>();
        Path setsid = Path.of("/usr/bin/setsid");
        if (Files.isExecutable(setsid)) {
            command.add(setsid.toString()); // own session: a Ctrl-C in the starting terminal does not reach it
        }
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", JAR, MAIN, config.toString()));
        Process p = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile().toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        Files.writeString(pidFile(), p.pid() + "\n"); // setsid execs in place: the pid is the JVM's
    }
}
