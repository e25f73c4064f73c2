package dev.featurepipe.services;

/**
 * What {@link LocalServices#status()} found for one service.
 *
 * @param name      "redis", "clickhouse", "mongo", or "redis-<port>" for a node of a Redis Cluster
 * @param address   host:port
 * @param answering whether the service answered its health check
 * @param pid       pid of the server {@link LocalServices#up()} started (pid file in the data dir, process alive),
 *                  or null when the server is external or not running
 */
public record ServiceStatus(String name, String address, boolean answering, Long pid) {
}
