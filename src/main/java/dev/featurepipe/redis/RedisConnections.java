package dev.featurepipe.redis;

import dev.featurepipe.core.StoreUnavailableException;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The Redis client of the process: one shared, multiplexed connection for short commands (thread-safe, so
 * concurrent callers are pipelined) and dedicated connections for blocking stream reads.
 */
public final class RedisConnections implements AutoCloseable {
    private final RedisClient client;
    private final URI uri;
    private final List<StatefulRedisConnection<String, String>> dedicated = new ArrayList<>();
    private StatefulRedisConnection<String, String> shared;

    public RedisConnections(URI uri) {
        this.uri = uri;
        this.client = RedisClient.create(RedisURI.create(uri));
        client.setOptions(ClientOptions.builder()
                .timeoutOptions(TimeoutOptions.enabled(Duration.ofSeconds(10)))
                .build());
    }

    public synchronized StatefulRedisConnection<String, String> shared() {
        if (shared == null) {
            shared = connect();
        }
        return shared;
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
            throw unavailable("connect", e);
        }
    }

    /** The one place Lettuce failures become featurepipe's, naming the server. */
    public StoreUnavailableException unavailable(String doing, Exception cause) {
        String reason = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        return new StoreUnavailableException("Redis at " + uri.getHost() + ":" + uri.getPort() + ": " + doing
                + " failed: " + reason, cause);
    }

    @Override
    public synchronized void close() {
        dedicated.forEach(StatefulRedisConnection::close);
        if (shared != null) {
            shared.close();
        }
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
}
