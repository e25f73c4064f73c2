package dev.featurepipe.auth;

import dev.featurepipe.http.RefusedException;
import java.util.Set;

/**
 * One line of the keys file: the SHA-256 of a key (never the key), its scopes, and the entities it is limited to
 * (empty: all). The name is a label for logs and errors.
 */
record ApiKey(String name, byte[] sha256, Set<Scope> scopes, Set<String> entities) implements Access {
    ApiKey {
        scopes = Set.copyOf(scopes);
        entities = Set.copyOf(entities);
    }

    boolean allows(Scope scope) {
        return scopes.contains(Scope.ADMIN) || scopes.contains(scope);
    }

    @Override
    public void requireEntity(String entity) {
        if (!entities.isEmpty() && !entities.contains(entity)) {
            throw new RefusedException(403, "entity", "key '" + name + "' may not use entity '" + entity
                    + "' (it is limited to " + entities.stream().sorted().toList() + ")");
        }
    }
}
