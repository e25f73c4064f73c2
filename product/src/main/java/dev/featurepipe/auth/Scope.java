package dev.featurepipe.auth;

import io.javalin.security.RouteRole;
import java.util.Locale;

/** What an API key may do; a route names the scope it needs. {@code admin} may do everything. */
public enum Scope implements RouteRole {
    INGEST, READ, ADMIN;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** @throws IllegalArgumentException naming the scopes there are */
    public static Scope parse(String text) {
        for (Scope s : values()) {
            if (s.label().equals(text)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown scope '" + text + "' (scopes: ingest, read, admin)");
    }
}
