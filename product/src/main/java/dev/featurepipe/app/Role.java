package dev.featurepipe.app;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/** The roles one featurepipe process can run; any subset, all by default. */
public enum Role {
    INGEST, ONLINE, OFFLINE, SERVE, MATERIALIZE;

    /** Parses "ingest,serve"; the error lists the known roles. */
    public static Set<Role> parse(String list) {
        Set<Role> roles = EnumSet.noneOf(Role.class);
        for (String name : list.split(",")) {
            String n = name.trim().toUpperCase(Locale.ROOT);
            if (Arrays.stream(values()).noneMatch(r -> r.name().equals(n))) {
                throw new IllegalArgumentException("unknown role '" + name.trim() + "' (known: "
                        + String.join(", ", Arrays.stream(values()).map(r -> r.name().toLowerCase(Locale.ROOT)).toList()) + ")");
            }
            roles.add(valueOf(n));
        }
        return roles;
    }
}
