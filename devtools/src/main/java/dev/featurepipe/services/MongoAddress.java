package dev.featurepipe.services;

import com.mongodb.ConnectionString;
import java.util.List;
import java.util.Optional;

/** The one host and port of a MongoDB connection string, when it names exactly one (IPv6 in brackets too). */
public record MongoAddress(String host, int port) {
    private static final int DEFAULT_PORT = 27017;

    /** Empty for an SRV address or a replica set list: no single local server could stand in for those. */
    public static Optional<MongoAddress> of(ConnectionString uri) {
        List<String> hosts = uri.getHosts();
        if (uri.isSrvProtocol() || hosts.size() != 1) {
            return Optional.empty();
        }
        String h = hosts.get(0);
        int colon = h.lastIndexOf(':');
        boolean hasPort = colon > 0 && !h.endsWith("]");
        String host = (hasPort ? h.substring(0, colon) : h).replace("[", "").replace("]", "");
        return Optional.of(new MongoAddress(host, hasPort ? Integer.parseInt(h.substring(colon + 1)) : DEFAULT_PORT));
    }
}
