package dev.featurepipe.services;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A real redis-server, daemonized, with an append-only file so data survives restarts: Redis writes each command
 * to it before it answers, and fsyncs it every second ({@code everysec}) or before every answer ({@code always}).
 * Alone, or as one node of a {@link RedisClusterLocal}.
 */
final class RedisLocal implements LocalServer {
    /** A cluster node also listens on its cluster bus port, its port plus this. */
    static final int CLUSTER_BUS_OFFSET = 10_000;

    private final String name;
    private final String host;
    private final int port;
    private final String fsync;
    private final Path dir;
    private final List<String> clusterOptions;

    RedisLocal(URI url, String fsync, Path dir) {
        this("redis", url.getHost() == null ? "127.0.0.1" : url.getHost(), url.getPort() < 0 ? 6379 : url.getPort(),
                fsync, dir, List.of());
    }

    private RedisLocal(String name, String host, int port, String fsync, Path dir, List<String> clusterOptions) {
        this.name = name;
        this.host = host;
        this.port = port;
        this.fsync = fsync;
        this.dir = dir;
        this.clusterOptions = clusterOptions;
    }

    /** A node of a Redis Cluster, named {@code redis-<port>}, its cluster state in {@code dir/nodes.conf}. */
    static RedisLocal clusterNode(String host, int port, String fsync, Duration nodeTimeout, Path dir) {
        return new RedisLocal("redis-" + port, host, port, fsync, dir, List.of("--cluster-enabled", "yes",
                "--cluster-config-file", dir.resolve("nodes.conf").toString(),
                "--cluster-node-timeout", String.valueOf(nodeTimeout.toMillis())));
    }

    @Override public String name() { return name; }
    @Override public String host() { return host; }
    @Override public int port() { return port; }
    @Override public String executable() { return "redis-server"; }
    @Override public List<String> packages() { return List.of("redis-server", "redis-tools"); }
    @Override public String processHint() { return "redis"; }
    @Override public Path dir() { return dir; }
    @Override public Path pidFile() { return dir.resolve("redis.pid"); }
    @Override public Path logFile() { return dir.resolve("redis.log"); }

    @Override
    public List<Integer> ports() {
        return clusterOptions.isEmpty() ? List.of(port) : List.of(port, port + CLUSTER_BUS_OFFSET);
    }

    /** Sends a PING; a password-protected Redis (-NOAUTH) is a Redis that answers, too. */
    @Override
    public boolean answers() {
        try {
            String reply = call("PING");
            return reply.equals("PONG") || reply.startsWith("-NOAUTH");
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Sends one inline command (words without spaces) and returns the reply: a status or bulk string as is, an
     * error with its leading {@code -}.
     */
    String call(String command) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), 500);
            s.setSoTimeout(1000);
            s.getOutputStream().write((command + "\r\n").getBytes(StandardCharsets.US_ASCII));
            InputStream in = new BufferedInputStream(s.getInputStream());
            String first = line(in);
            if (!first.startsWith("$")) {
                return first.startsWith("+") ? first.substring(1) : first;
            }
            int length = Integer.parseInt(first.substring(1));
            byte[] body = in.readNBytes(Math.max(length, 0));
            if (body.length < length) {
                throw new IOException("closed the connection mid-reply to " + command);
            }
            return new String(body, StandardCharsets.UTF_8);
        } catch (NumberFormatException e) {
            throw new IOException(address() + " sent a malformed reply to " + command, e);
        } catch (IOException e) {
            throw new IOException(address() + ": " + e.getMessage(), e);
        }
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b = in.read(); b != '\n'; b = in.read()) {
            if (b < 0) {
                throw new IOException("connection closed before a reply");
            }
            if (b != '\r') {
                line.write(b);
            }
        }
        return line.toString(StandardCharsets.UTF_8);
    }

    @Override
    public void start(Path executable) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(executable.toString(),
                "--port", String.valueOf(port),
                "--bind", host,
                "--save", "",
                "--appendonly", "yes",
                "--appendfsync", fsync,
                "--dir", dir.toString(),
                "--daemonize", "yes",
                "--pidfile", pidFile().toString(),
                "--logfile", logFile().toString()));
        command.addAll(clusterOptions);
        LocalServer.runLauncher(command, dir, logFile());
    }
}
