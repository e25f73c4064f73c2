package dev.featurepipe.it;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A redis-server of one test, started with options of its own (a password, ACL users, TLS) on a port of the test
 * run's range, in memory, and stopped with the test.
 */
final class ExtraRedis implements AutoCloseable {
    private final Process process;
    final int port;

    private ExtraRedis(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    /**
     * @param port the port clients connect to (plain, or TLS when {@code options} has {@code --tls-port} and
     *             {@code --port 0})
     */
    static ExtraRedis start(int port, List<String> options) throws IOException, InterruptedException {
        Path dir = Files.createDirectories(Path.of("target/extra-redis/" + port).toAbsolutePath());
        List<String> command = new ArrayList<>(List.of("redis-server", "--port", Integer.toString(port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString()));
        command.addAll(options); // a later --port wins
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("redis.log").toFile()).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!accepts(port)) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                process.destroyForcibly();
                throw new IOException("redis-server " + command + " did not start: " + Files.readString(dir.resolve("redis.log")));
            }
            Thread.sleep(50);
        }
        return new ExtraRedis(process, port);
    }

    private static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** The server's process id (for signals such as SIGSTOP). */
    long pid() {
        return process.pid();
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        process.waitFor();
    }
}
