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
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The Redis client of the process, to one Redis or to a Redis Cluster: one shared, multiplexed connection for
 * short commands (thread-safe, so concurrent callers are pipelined), one for feature reads ({@link #reads()}), and
 * dedicated connections for blocking stream reads and for appends that wait for replicas. On a cluster each command goes to the master of its key's
 * slot, the client follows MOVED and ASK, and it reads the topology again when a master fails over.
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
    /** How often a cluster client reads the topology even when nothing told it to. */
    private static final Duration TOPOLOGY_REFRESH = Duration.ofSeconds(30);

    private final RedisClient client;
    private final RedisClusterClient clusterClient;
    private final String where;
    private final List<Link> dedicated = new ArrayList<>();
    private Link shared;
    private Reads reads;

    /** @param uri as Lettuce reads it; its {@code timeout} parameter (default {@link #DEFAULT_TIMEOUT}) bounds every command */
    public RedisConnections(URI uri) {
        this(uri, null);
    }

    /**
     * @param uri {@code redis://[[user]:password@]host:port}, {@code rediss://} for TLS, or
     *            {@code redis-cluster://[[user]:password@]host:port,host:port,...} (seed nodes of a cluster),
     *            {@code rediss-cluster://} for TLS; its {@code timeout} parameter (default {@link #DEFAULT_TIMEOUT})
     *            bounds every command
     * @param tlsCa certificates (PEM) a TLS server's certificate must chain to, or null for the JVM's own
     */
    public RedisConnections(URI uri, Path tlsCa) {
        List<RedisURI> nodes = nodes(uri);
        this.where = nodes.stream().map(n -> n.getHost() + ":" + n.getPort()).collect(Collectors.joining(","));
        // a bounded queue: when Redis falls behind, a command beyond it fails at once (serving answers unavailable,
        // a consumer retries) instead of every caller's commands piling up in the heap until it runs out
        SslOptions ssl = tlsCa == null ? null : SslOptions.builder().jdkSslProvider().trustManager(tlsCa.toFile()).build();
        if (uri.getScheme().endsWith("-cluster")) {
            this.client = null;
            this.clusterClient = RedisClusterClient.create(nodes);
            ClusterClientOptions.Builder options = ClusterClientOptions.builder()
                    .timeoutOptions(TimeoutOptions.enabled())
                    .requestQueueSize(REQUEST_QUEUE)
                    .topologyRefreshOptions(ClusterTopologyRefreshOptions.builder()
                            .enablePeriodicRefresh(TOPOLOGY_REFRESH)
                            .enableAllAdaptiveRefreshTriggers()
                            .build());
            if (ssl != null) {
                options.sslOptions(ssl);
            }
            clusterClient.setOptions(options.build());
        } else {
            this.clusterClient = null;
            this.client = RedisClient.create(nodes.get(0));
            ClientOptions.Builder options = ClientOptions.builder()
                    .timeoutOptions(TimeoutOptions.enabled())
                    .requestQueueSize(REQUEST_QUEUE);
            if (ssl != null) {
                options.sslOptions(ssl);
            }
            client.setOptions(options.build());
        }
    }

    /** The node or seed nodes of the URL, each with its credentials, TLS and timeout. */
    private static List<RedisURI> nodes(URI uri) {
        String scheme = uri.getScheme().replace("-cluster", "");
        String authority = uri.getRawAuthority();
        int at = authority.lastIndexOf('@');
        String credentials = at < 0 ? "" : authority.substring(0, at + 1);
        String query = uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery();
        List<RedisURI> nodes = new ArrayList<>();
        for (String node : authority.substring(at + 1).split(",")) {
            RedisURI redisUri = RedisURI.create(scheme + "://" + credentials + node + query);
            if (query.isEmpty() || !query.contains("timeout=")) {
                redisUri.setTimeout(DEFAULT_TIMEOUT);
            }
            nodes.add(redisUri);
        }
        return nodes;
    }

    /** Whether the URL names a Redis Cluster. */
    public boolean cluster() {
        return clusterClient != null;
    }

    /**
     * One connection, to one Redis or to a cluster (then a connection per node behind it), with the commands both
     * offer.
     */
    public static final class Link {
        private final StatefulConnection<String, String> connection;
        private final RedisClusterCommands<String, String> sync;
        private final RedisClusterAsyncCommands<String, String> async;
        private final boolean cluster;

        private Link(StatefulRedisConnection<String, String> c) {
            this.connection = c;
            this.sync = c.sync();
            this.async = c.async();
            this.cluster = false;
        }

        private Link(StatefulRedisClusterConnection<String, String> c) {
            this.connection = c;
            this.sync = c.sync();
            this.async = c.async();
            this.cluster = true;
        }

        public RedisClusterCommands<String, String> sync() {
            return sync;
        }

        public RedisClusterAsyncCommands<String, String> async() {
            return async;
        }

        /**
         * With false, commands wait until {@link #flushCommands} sends them, all in one write. Not on a cluster: a
         * command for a node the client is still connecting to is buffered after the flush and never sent (Lettuce
         * issue 1111), so there each command is written as it is issued; those of one read are still in flight
         * together, one round trip per node.
         */
        public void setAutoFlushCommands(boolean autoFlush) {
            if (!cluster) {
                connection.setAutoFlushCommands(autoFlush);
            }
        }

        public void flushCommands() {
            connection.flushCommands();
        }

        /**
         * The commands of the master that serves a key's slot, on this link alone: on one Redis the link's own, on a
         * cluster the link's connection to that node, which routes nothing elsewhere (an error reply MOVED when the
         * node no longer serves the slot). For a link one caller uses at a time ({@link #dedicated}), so that
         * commands which depend on what the same connection did before (WAIT) see only that caller's.
         */
        public RedisClusterCommands<String, String> master(String key) {
            if (!cluster) {
                return sync;
            }
            StatefulRedisClusterConnection<String, String> c = (StatefulRedisClusterConnection<String, String>) connection;
            RedisClusterNode master = c.getPartitions().getMasterBySlot(SlotHash.getSlot(key));
            if (master == null) {
                throw new RedisException("no master serves the slot of key " + key);
            }
            return c.getConnection(master.getNodeId()).sync();
        }

        void close() {
            connection.close();
        }
    }

    public synchronized Link shared() {
        if (shared == null) {
            shared = connect();
        }
        return shared;
    }

    /** The connection of feature reads. */
    public synchronized Reads reads() {
        if (reads == null) {
            Link c = connect();
            c.setAutoFlushCommands(false);
            reads = new Reads(c);
        }
        return reads;
    }

    /**
     * A connection that sends commands only when told to: the commands of one read go out in one write, and Redis
     * reads them in one go, where sending each on its own costs a system call on both sides per command (on a
     * cluster they are written one by one, see {@link Link#setAutoFlushCommands}). Callers may share it: each sends
     * what it issued, and a send that takes another caller's commands along is harmless.
     */
    public static final class Reads {
        private final Link connection;

        private Reads(Link connection) {
            this.connection = connection;
        }

        /** Issues commands and sends them; the caller keeps their futures. */
        public void send(Consumer<RedisClusterAsyncCommands<String, String>> commands) {
            try {
                commands.accept(connection.async());
            } finally {
                connection.flushCommands();
            }
        }
    }

    /** A connection of its own, for commands that block (XREADGROUP ... BLOCK). */
    public synchronized Link dedicated() {
        Link c = connect();
        dedicated.add(c);
        return c;
    }

    /** Closes a connection {@link #dedicated()} gave, before the rest close. */
    public synchronized void release(Link c) {
        if (dedicated.remove(c)) {
            c.close();
        }
    }

    /** On a cluster, reads which node serves which slot again (after a failover: MOVED); on one Redis, nothing. */
    public void refreshTopology() {
        if (cluster()) {
            clusterClient.refreshPartitions();
        }
    }

    private Link connect() {
        try {
            return cluster() ? new Link(clusterClient.connect()) : new Link(client.connect());
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
        String message = "Redis at " + where + ": " + doing + " failed: " + reason;
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
        dedicated.forEach(Link::close);
        if (shared != null) {
            shared.close();
        }
        if (reads != null) {
            reads.connection.close();
        }
        if (cluster()) {
            clusterClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        } else {
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        }
    }
}
