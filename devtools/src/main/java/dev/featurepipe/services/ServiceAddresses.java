package dev.featurepipe.services;

import java.net.URI;
import java.util.Objects;

/**
 * Where the three backing services are expected to answer.
 *
 * @param redisUrl          e.g. {@code redis://127.0.0.1:6379}
 * @param clickhouseUrl     ClickHouse HTTP interface, e.g. {@code http://127.0.0.1:8123}
 * @param clickhouseTcpPort ClickHouse native TCP port (only used when a local server is started), e.g. 9000
 * @param mongoUri          e.g. {@code mongodb://127.0.0.1:27017}
 */
public record ServiceAddresses(URI redisUrl, URI clickhouseUrl, int clickhouseTcpPort, String mongoUri) {
    public ServiceAddresses {
        Objects.requireNonNull(redisUrl, "redisUrl");
        Objects.requireNonNull(clickhouseUrl, "clickhouseUrl");
        Objects.requireNonNull(mongoUri, "mongoUri");
    }
}
