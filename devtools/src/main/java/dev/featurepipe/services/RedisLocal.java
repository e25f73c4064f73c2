package dev.featurepipe.services;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * A real redis-server, daemonized, with an append-only file so data survives restarts: Redis writes each command
 * to it before it answers, and fsyncs it every second ({@code everysec}) or before every answer ({@code always}).
 */
final class RedisLocal implements LocalServer {
    private final String host;
    private final int port;
    private final String fsync;
    private final Path dir;

    RedisLocal(URI url, String fsync, Path dir) {
        this.fsync = fsync;
        this.host = url.getHost() == null ? "127.0.0.1" : url.getHost();
        this.port = url.getPort() < 0 ? 6379 : url.getPort();
        this.dir = dir;
    }

    @Override public String name() { return "redis"; }
    @Override public String host() { return host; }
    @Override public int port() { return port; }
    @Override public String executable() { return "redis-server"; }
    @Override public List<String> packages() { return List.of("redis-server", "redis-tools"); }
    @Override public String processHint() { return "redis"; }
    @Override public Path dir() { return dir; }
    @Override public Path pidFile() { return dir.resolve("redis.pid"); }
    @Override public Path logFile() { return dir.resolve("redis.log"); }

    /** Sends an inline PING; a password-protected Redis (-NOAUTH) is a Redis that answers, too. */
    @Override
    public boolean answers() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), 500);
            s.setSoTimeout(1000);
            s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            byte[] buf = new byte[64];
            int n = in.read(buf);
            String reply = n <= 0 ? "" : new String(buf, 0, n, StandardCharsets.US_ASCII);
            return reply.startsWith("+PONG") || reply.startsWith("-NOAUTH");
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void start(Path executable) throws IOException, InterruptedException {
        LocalServer.runLauncher(List.of(executable.toString(),
                "--port", String.valueOf(port),
                "--bind", host,
                "--save", "",
                "--appendonly", "yes",
                "--appendfsync", fsync,
                "--dir", dir.toString(),
                "--daemonize", "yes",
                "--pidfile", pidFile().toString(),
                "--logfile", logFile().toString()), dir, logFile());
    }
}
