package dev.featurepipe.auth;

import dev.featurepipe.config.ConfigException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The API keys of {@code FP_API_KEYS_FILE}: one key a line, as {@code sha256:<hex> scopes=ingest,read
 * [entities=customer,...] [name=label]}; blank lines and lines from {@code #} on are ignored. The file holds
 * hashes only, so reading it gives no key away.
 */
public final class ApiKeys {
    private static final SecureRandom RANDOM = new SecureRandom();
    private final List<ApiKey> keys;

    private ApiKeys(List<ApiKey> keys) {
        this.keys = List.copyOf(keys);
    }

    /**
     * @param entities the registry's entities, which an {@code entities=} list must name
     * @throws ConfigException listing every bad line, or when the file is missing or holds no key
     */
    public static ApiKeys load(Path file, Set<String> entities) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException("FP_AUTH=keys needs API keys, but FP_API_KEYS_FILE (" + file + ") cannot be read ("
                    + e.getClass().getSimpleName() + "). Make a key with './fp api-key new --scopes ingest,read' and put"
                    + " its line in that file, or set FP_AUTH=off for local use");
        }
        List<ApiKey> keys = new ArrayList<>();
        List<String> errors = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).replaceFirst("#.*", "").trim();
            if (line.isEmpty()) {
                continue;
            }
            try {
                keys.add(parse(line, i + 1, entities));
            } catch (IllegalArgumentException e) {
                errors.add("line " + (i + 1) + ": " + e.getMessage());
            }
        }
        Set<String> names = new HashSet<>();
        keys.stream().map(ApiKey::name).filter(n -> !names.add(n)).forEach(n -> errors.add("name '" + n + "' is used twice"));
        if (keys.isEmpty() && errors.isEmpty()) {
            errors.add("holds no key; make one with './fp api-key new --scopes ingest,read'");
        }
        if (!errors.isEmpty()) {
            throw new ConfigException("FP_API_KEYS_FILE (" + file + "):\n  " + String.join("\n  ", errors));
        }
        return new ApiKeys(keys);
    }

    private static ApiKey parse(String line, int number, Set<String> known) {
        String[] parts = line.split("\\s+");
        if (!parts[0].matches("sha256:[0-9a-fA-F]{64}")) {
            throw new IllegalArgumentException("must start with sha256: and the 64 hex digits of the key's SHA-256");
        }
        byte[] hash = HexFormat.of().parseHex(parts[0].substring("sha256:".length()));
        Set<Scope> scopes = new LinkedHashSet<>();
        Set<String> entities = new LinkedHashSet<>();
        String name = "line-" + number;
        for (String part : Arrays.asList(parts).subList(1, parts.length)) {
            int eq = part.indexOf('=');
            String field = eq < 0 ? part : part.substring(0, eq);
            List<String> values = eq < 0 ? List.of() : List.of(part.substring(eq + 1).split(","));
            switch (field) {
                case "scopes" -> values.forEach(v -> scopes.add(Scope.parse(v)));
                case "entities" -> values.forEach(v -> {
                    if (!known.contains(v)) {
                        throw new IllegalArgumentException("unknown entity '" + v + "' (the registry's: " + known + ")");
                    }
                    entities.add(v);
                });
                case "name" -> name = values.isEmpty() ? "" : values.get(0);
                default -> throw new IllegalArgumentException("unknown field '" + field + "' (fields: scopes=, entities=, name=)");
            }
        }
        if (scopes.isEmpty()) {
            throw new IllegalArgumentException("names no scope (scopes=ingest,read,admin)");
        }
        if (!name.matches("[A-Za-z0-9_.-]{1,64}")) {
            throw new IllegalArgumentException("a name is 1 to 64 letters, digits, '_', '.' or '-'");
        }
        return new ApiKey(name, hash, scopes, entities);
    }

    /** The key whose hash matches, comparing with every key in constant time. */
    Optional<ApiKey> find(String key) {
        byte[] hash = sha256(key);
        ApiKey found = null;
        for (ApiKey k : keys) {
            if (MessageDigest.isEqual(k.sha256(), hash)) {
                found = k;
            }
        }
        return Optional.ofNullable(found);
    }

    /** A fresh key: 32 random bytes, URL-safe base64. */
    public static String newKey() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return "fpk_" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** The keys file's line for {@code key}. */
    public static String line(String key, Set<Scope> scopes, Set<String> entities, String name) {
        StringBuilder line = new StringBuilder("sha256:").append(HexFormat.of().formatHex(sha256(key)))
                .append(" scopes=").append(String.join(",", scopes.stream().map(Scope::label).toList()));
        if (!entities.isEmpty()) {
            line.append(" entities=").append(String.join(",", entities));
        }
        if (name != null) {
            line.append(" name=").append(name);
        }
        return line.toString();
    }

    static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
