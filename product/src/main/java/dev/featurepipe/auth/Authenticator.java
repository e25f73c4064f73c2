package dev.featurepipe.auth;

import dev.featurepipe.config.Config;
import dev.featurepipe.http.RefusedException;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.security.RouteRole;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks the API key of every request to a route that names a {@link Scope}, before the route runs: 401 without a
 * known key, 403 for a key without the scope, 429 past the key's rate. Routes without a scope (/healthz) are open.
 * With access control off, every route is open and nothing is rate-limited.
 */
public final class Authenticator implements Handler {
    private static final Logger log = LoggerFactory.getLogger(Authenticator.class);
    static final String ACCESS = "featurepipe.access";
    private static final String BEARER = "bearer ";
    private static final String REALM = "Bearer realm=\"featurepipe\"";

    private final KeysFile keys;
    private final RateLimiter limiter;
    private final boolean monitoringNeedsKey;

    private Authenticator(KeysFile keys, RateLimiter limiter, boolean monitoringNeedsKey) {
        this.keys = keys;
        this.limiter = limiter;
        this.monitoringNeedsKey = monitoringNeedsKey;
    }

    /** No access control: local use only. */
    public static Authenticator off() {
        return new Authenticator(null, null, false);
    }

    /**
     * As the settings say: FP_AUTH, FP_API_KEYS_FILE, FP_AUTH_MONITORING, FP_RATE_LIMIT, FP_RATE_LIMIT_BURST.
     * @param entities the registry's entities
     * @throws dev.featurepipe.config.ConfigException when keys are required and the file cannot give them
     */
    public static Authenticator fromConfig(Config config, Set<String> entities) {
        if (config.get(Config.AUTH).equals("off")) {
            log.warn("auth: access control is off (FP_AUTH=off): whoever reaches the port may read and write");
            return off();
        }
        KeysFile keys = new KeysFile(config.path(Config.API_KEYS_FILE), entities, System::nanoTime);
        double rate = config.get(Config.RATE_LIMIT);
        RateLimiter limiter = rate == 0 ? null : new RateLimiter(rate, config.get(Config.RATE_LIMIT_BURST), System::nanoTime);
        return new Authenticator(keys, limiter, config.get(Config.AUTH_MONITORING).equals("admin"));
    }

    /** How often the keys file was read again after a change, and refused. */
    public MeterBinder metrics() {
        return keys == null ? registry -> { } : keys.metrics();
    }

    /** The scopes /readyz and /metrics need: none, or admin. */
    public RouteRole[] monitoringScopes() {
        return monitoringNeedsKey ? new RouteRole[] {Scope.ADMIN} : new RouteRole[0];
    }

    @Override
    public void handle(Context ctx) {
        Set<RouteRole> roles = ctx.routeRoles();
        if (roles.isEmpty()) {
            return;
        }
        if (keys == null) {
            ctx.attribute(ACCESS, Access.ANY);
            return;
        }
        String presented = presentedKey(ctx);
        ApiKey key = keys.keys().find(presented).orElseThrow(() -> new RefusedException(401, "unknown_key",
                "the API key is not known", Map.of("WWW-Authenticate", REALM + ", error=\"invalid_token\"")));
        Scope needed = (Scope) roles.iterator().next();
        if (!key.allows(needed)) {
            throw new RefusedException(403, "scope", "key '" + key.name() + "' lacks the scope '" + needed.label()
                    + "' this request needs (it has " + key.scopes().stream().map(Scope::label).sorted().toList() + ")");
        }
        long wait = limiter == null ? 0 : limiter.take(key.name());
        if (wait > 0) {
            throw new RefusedException(429, "rate", "key '" + key.name() + "' is over its rate limit"
                    + " (FP_RATE_LIMIT requests/s, FP_RATE_LIMIT_BURST at once); retry in " + wait + " s",
                    Map.of("Retry-After", Long.toString(wait)));
        }
        ctx.attribute(ACCESS, key);
    }

    private static String presentedKey(Context ctx) {
        String authorization = ctx.header("Authorization");
        if (authorization != null && authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())
                && !authorization.substring(BEARER.length()).isBlank()) {
            return authorization.substring(BEARER.length()).trim();
        }
        String header = ctx.header("X-API-Key");
        if (header != null && !header.isBlank()) {
            return header.trim();
        }
        throw new RefusedException(401, "no_key", "an API key is required: send 'Authorization: Bearer <key>' or"
                + " 'X-API-Key: <key>'", Map.of("WWW-Authenticate", REALM));
    }
}
