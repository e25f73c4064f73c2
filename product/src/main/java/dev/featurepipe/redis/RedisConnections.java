package dev.featurepipe.redis;

import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.Secrets;
import dev.featurepipe.core.StoreFailedException;
import dev.featurepipe.core.StoreRejectedException;
import dev.featurepipe.core.StoreUnavailableException;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SslOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The Redis client of the process: one shared, multiplexed connection for short commands (thread-safe, so
 * concurrent callers are pipelined), one for feature reads ({@link #reads()}), and dedicated connections for
 * blocking stream reads.
 */
public final class RedisConnections implements AutoCloseable {
    private static final Pattern TRANSIENT_REPLY =
            Pattern.compile("(BUSY|LOADING|OOM|READONLY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|NOREPLICAS)");
    /** Error replies that a value of the event causes: the apply script's own, and those of the commands it runs. */
    private static final Pattern DATA_REPLY = Pattern.compile("^" + ApplyScript.VALUE_ERROR
            + " |NaN or Infinity|not a (valid )?float|not an integer|would overflow|out of range");

    /** How long a command may wait for its answer unless the URL says otherwise ({@code ?timeout=}). */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
    /** Commands a connection may hold unanswered. */
    private static final int REQUEST_QUEUE = 100_000;

    private final RedisClient client;
    private final URI uri;
    private final List<StatefulRedisConnection<String, String>> dedicated = new ArrayList<>();
    private StatefulRedisConnection<String, String> shared;
    private Reads reads;

    /** @param uri as Lettuce reads it; its {@code timeout} parameter (default {@link #DEFAULT_TIMEOUT}) bounds every command */
    public RedisConnections(URI uri) {
        this(uri, null);
    }

    /**
     * @param uri as Lettuce reads it: {@code redis://[[user]:password@]host:port}, {@code rediss://} for TLS; its
     *            {@code timeout} parameter (default {@link #DEFAULT_TIMEOUT}) bounds every command
     * @param tlsCa certificates (PEM) a TLS server's certificate must chain to, or null for the JVM's own
     */
    public RedisConnections(URI uri, Path tlsCa) {
        this.uri = uri;
        RedisURI redisUri = RedisURI.create(uri);
        if (uri.getQuery() == null || !uri.getQuery().contains("timeout=")) {
            redisUri.setTimeout(DEFAULT_TIMEOUT);
        }
        this.client = RedisClient.create(redisUri);
        // a bounded queue: when Redis falls behind, a command beyond it fails at once (serving answers unavailable,
        // a consumer retries) instead of every caller's commands piling up in the heap until it runs out
        ClientOptions.Builder options = ClientOptions.builder()
                .timeoutOptions(TimeoutOptions.enabled())
                .requestQueueSize(REQUEST_QUEUE);
        if (tlsCa != null) {
            options.sslOptions(SslOptions.builder().jdkSslProvider().trustManager(tlsCa.toFile()).build());
        }
        client.setOptions(options.build());
    }

    /** Whether the URL names a Redis Cluster. */
    public boolean cluster() {
        return false;
    }

    public synchronized StatefulRedisConnection<String, String> shared() {
        if (shared == null) {
            shared = connect();
        }
        return shared;
    }

    /** The connection of feature reads. */
    public synchronized Reads reads() {
        if (reads == null) {
            StatefulRedisConnection<String, String> c = connect();
            c.setAutoFlushCommands(false);
            reads = new Reads(c);
        }
        return reads;
    }

    /**
     * A connection that sends commands only when told to: the commands of one read go out in one write, and Redis
     * reads them in one go, where sending each on its own costs a system call on both sides per command. Callers
     * may share it: each sends what it issued, and a send that takes another caller's commands along is harmless.
     */
    public static final class Reads {
        private final StatefulRedisConnection<String, String> connection;

        private Reads(StatefulRedisConnection<String, String> connection) {
            this.connection = connection;
        }

        /** Issues commands and sends them; the caller keeps their futures. */
        public void send(Consumer<RedisAsyncCommands<String, String>> commands) {
            try {
                commands.accept(connection.async());
            } finally {
                connection.flushCommands();
            }
        }
    }

    /** A connection of its own, for commands that block (XREADGROUP ... BLOCK). */
    public synchronized StatefulRedisConnection<String, String> dedicated() {
        StatefulRedisConnection<String, String> c = connect();
        dedicated.add(c);
        return c;
    }

    private StatefulRedisConnection<String, String> connect() {
        try {
            return client.connect();
        } catch (RedisException e) {
            throw failure("connect", e);
        }
    }

    /**
     * The one place Lettuce failures become featurepipe's, naming the server: an error reply that says "not now"
     * (busy, loading, out of memory, read-only) or no reply at all is {@link StoreUnavailableException}; one about
     * a value (a sum that would overflow or not be finite, a number that is not one) is the data's fault,
     * {@link StoreRejectedException}; any other error reply (a wrong type, an unknown command, a script error) is
     * a bug or a misconfiguration, {@link StoreFailedException}.
     */
    public FeaturepipeException failure(String doing, Exception cause) {
        Throwable root = cause instanceof ExecutionException && cause.getCause() != null ? cause.getCause() : cause;
        String reason = root.getMessage() == null ? root.getClass().getSimpleName() : Secrets.redact(root.getMessage());
        if (root instanceof RedisConnectionException && root.getCause() != null) {
            Throwable why = root.getCause(); // what the server said (WRONGPASS, NOAUTH) or what TLS found wrong
            while (why.getCause() != null) {
                why = why.getCause();
            }
            reason += ": " + Secrets.redact(String.valueOf(why.getMessage()));
        }
        String message = "Redis at " + uri.getHost() + ":" + uri.getPort() + ": " + doing + " failed: " + reason;
        if (!(root instanceof RedisCommandExecutionException)) {
            return new StoreUnavailableException(message, root);
        }
        if (TRANSIENT_REPLY.matcher(reason).lookingAt()) {
            return new StoreUnavailableException(message, root);
        }
        return DATA_REPLY.matcher(reason).find() ? new StoreRejectedException(message, root)
                : new StoreFailedException(message, root);
    }

    @Override
    public synchronized void close() {
        dedicated.forEach(StatefulRedisConnection::close);
        if (shared != null) {
            shared.close();
        }
        if (reads != null) {
            reads.connection.close();
        }
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
}
