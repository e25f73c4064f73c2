package dev.featurepipe.redis;

import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Lua script from the class path, run by its SHA; a Redis that does not know it yet (new, restarted, or a
 * cluster node that just became master) gets it whole once, by EVAL, which also keeps it.
 */
final class RedisScript {
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{\\{([A-Z_]+)}}");

    private final String source;
    private final String sha;

    private RedisScript(String source, String sha) {
        this.source = source;
        this.sha = sha;
    }

    static RedisScript load(String resource) {
        return load(resource, Map.of());
    }

    /**
     * The script with each {@code {{NAME}}} in its source replaced by {@code literals.get(NAME)}, a Lua literal:
     * names the script shares with Java are defined in Java only. Every name must be given and every literal used.
     */
    static RedisScript load(String resource, Map<String, String> literals) {
        String source = source(resource, literals);
        return new RedisScript(source, sha1(source));
    }

    private static String sha1(String source) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-1", e);
        }
    }

    /** The source {@link #load(String, Map)} loads. */
    static String source(String resource, Map<String, String> literals) {
        String source = read(resource);
        Set<String> unused = new HashSet<>(literals.keySet());
        Matcher m = PLACEHOLDER.matcher(source);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String literal = literals.get(m.group(1));
            if (literal == null) {
                throw new IllegalStateException("script /redis/" + resource + " names " + m.group(1) + ", which Java does not define");
            }
            unused.remove(m.group(1));
            m.appendReplacement(out, Matcher.quoteReplacement(literal));
        }
        if (!unused.isEmpty()) {
            throw new IllegalStateException("script /redis/" + resource + " does not use " + unused);
        }
        return m.appendTail(out).toString();
    }

    private static String read(String resource) {
        try (InputStream in = RedisScript.class.getResourceAsStream("/redis/" + resource)) {
            if (in == null) {
                throw new IllegalStateException("script /redis/" + resource + " is missing from the class path");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    <T> T run(RedisClusterCommands<String, String> redis, ScriptOutputType type, String[] keys, String... args) {
        try {
            return redis.evalsha(sha, type, keys, args);
        } catch (RedisNoScriptException e) {
            return redis.eval(source, type, keys, args); // to the node of the keys, which keeps it
        }
    }

    /** Pipelined form; the caller re-runs through {@link #run} after a NOSCRIPT failure. */
    <T> RedisFuture<T> runAsync(RedisClusterAsyncCommands<String, String> redis, ScriptOutputType type, String[] keys,
                                String... args) {
        return redis.evalsha(sha, type, keys, args);
    }
}
