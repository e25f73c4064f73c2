package dev.featurepipe.redis;

import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** A Lua script from the class path, run by its SHA and loaded into Redis when Redis does not know it yet. */
final class RedisScript {
    private final String source;
    private final String sha;

    private RedisScript(String source, String sha) {
        this.source = source;
        this.sha = sha;
    }

    static RedisScript load(RedisCommands<String, String> redis, String resource) {
        try (InputStream in = RedisScript.class.getResourceAsStream("/redis/" + resource)) {
            if (in == null) {
                throw new IllegalStateException("script /redis/" + resource + " is missing from the class path");
            }
            String source = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            return new RedisScript(source, redis.scriptLoad(source));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    <T> T run(RedisCommands<String, String> redis, ScriptOutputType type, String[] keys, String... args) {
        try {
            return redis.evalsha(sha, type, keys, args);
        } catch (RedisNoScriptException e) {
            // Redis was restarted or flushed its scripts since load()
            redis.scriptLoad(source);
            return redis.evalsha(sha, type, keys, args);
        }
    }

    /** Pipelined form; the caller re-runs through {@link #run} after a NOSCRIPT failure. */
    <T> RedisFuture<T> runAsync(RedisAsyncCommands<String, String> redis, ScriptOutputType type, String[] keys,
                                String... args) {
        return redis.evalsha(sha, type, keys, args);
    }
}
