package dev.featurepipe.redis;

import dev.featurepipe.core.StoreUnavailableException;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Connections each used by one caller at a time, for commands that block their connection or depend on what it
 * sent before (WAIT), which must not go over the shared, multiplexed one: at most {@code size}, opened as callers
 * need them and closed with the {@link RedisConnections}.
 */
final class ExclusiveLinks {
    private final RedisConnections redis;
    private final Semaphore permits;
    private final Queue<RedisConnections.Link> idle = new ConcurrentLinkedQueue<>();
    private final Duration acquireTimeout;
    private final int size;

    /** @param acquireTimeout longest a caller waits for a connection when all {@code size} are in use */
    ExclusiveLinks(RedisConnections redis, int size, Duration acquireTimeout) {
        this.redis = redis;
        this.permits = new Semaphore(size);
        this.acquireTimeout = acquireTimeout;
        this.size = size;
    }

    /** Runs {@code work} on a connection no one else uses meanwhile. */
    <T> T with(Function<RedisConnections.Link, T> work) {
        try {
            if (!permits.tryAcquire(acquireTimeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new StoreUnavailableException("Redis: all " + size + " connections of appends that wait for"
                        + " replicas are in use");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreUnavailableException("Redis: interrupted while waiting for a connection", e);
        }
        try {
            RedisConnections.Link link = idle.poll();
            if (link == null) {
                link = redis.dedicated();
            }
            try {
                return work.apply(link);
            } finally {
                idle.add(link);
            }
        } finally {
            permits.release();
        }
    }
}
