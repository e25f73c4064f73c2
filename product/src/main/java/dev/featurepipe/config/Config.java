package dev.featurepipe.config;

import dev.featurepipe.core.Durations;
import dev.featurepipe.core.Secrets;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Every setting of featurepipe with its default, read from FP_* environment variables and overridden by flags.
 * All values are parsed and checked at start, and every bad one is reported at once, naming the setting.
 */
public final class Config {
    public static final Setting<Integer> HTTP_PORT = new Setting<>("FP_HTTP_PORT", "8080",
            "port of the HTTP API (ingest, serve, health, metrics)", port());
    public static final Setting<String> HTTP_HOST = new Setting<>("FP_HTTP_HOST", "127.0.0.1",
            "address the HTTP API binds to", Config::nonEmpty);
    public static final Setting<URI> REDIS_URL = new Setting<>("FP_REDIS_URL", "redis://127.0.0.1:6379",
            "Redis holding the event stream and the online store; redis-cluster://host:port,host:port,... (or"
                    + " rediss-cluster://) names a Redis Cluster by seed nodes; ?timeout=5s bounds every command"
                    + " (default 10s)", Config::redisUrl);
    public static final Setting<URI> CLICKHOUSE_URL = new Setting<>("FP_CLICKHOUSE_URL", "http://127.0.0.1:8123",
            "HTTP interface of ClickHouse, the offline store (no user or password in it: see FP_CLICKHOUSE_USER)",
            Config::clickhouseUrl);
    public static final Setting<String> CLICKHOUSE_DATABASE = new Setting<>("FP_CLICKHOUSE_DATABASE", "featurepipe",
            "ClickHouse database of the offline tables (created when missing)", Config::identifier);
    public static final Setting<Integer> CLICKHOUSE_TCP_PORT = new Setting<>("FP_CLICKHOUSE_TCP_PORT", "9000",
            "native port a local ClickHouse started by './fp services up' listens on", port());
    public static final Setting<String> CLICKHOUSE_CLUSTER = new Setting<>("FP_CLICKHOUSE_CLUSTER", "",
            "cluster of the ClickHouse servers' remote_servers that holds the events: a local table on each of its nodes and"
                    + " a Distributed table in front, sharded by sipHash64(entity_id); empty: the one server of FP_CLICKHOUSE_URL",
            Config::identifierOrEmpty);
    public static final Setting<Boolean> CLICKHOUSE_REPLICATED = new Setting<>("FP_CLICKHOUSE_REPLICATED", "false",
            "on FP_CLICKHOUSE_CLUSTER, the local table of the events is a ReplicatedReplacingMergeTree, replicated among the"
                    + " replicas of each shard (needs ZooKeeper and the macros shard and replica in each server's config)",
            Config::bool);
    public static final Setting<String> MONGO_URI = new Setting<>("FP_MONGO_URI", "mongodb://127.0.0.1:27017",
            "MongoDB holding entity profiles, or `embedded`: an in-process MongoDB-protocol server, in memory, for local use;"
                    + " timeouts: serverSelectionTimeoutMS, connectTimeoutMS (default 2000), socketTimeoutMS (default 10000)",
            Config::mongoUri);
    public static final Setting<String> MONGO_DATABASE = new Setting<>("FP_MONGO_DATABASE", "featurepipe",
            "MongoDB database of the profile collections (one per entity)", Config::identifier);
    public static final Setting<Path> REGISTRY = new Setting<>("FP_REGISTRY", "registry/retail.yaml",
            "feature registry YAML (relative paths are resolved against the project directory)", Path::of);
    public static final Setting<Path> DATA_DIR = new Setting<>("FP_DATA_DIR", ".fp-data",
            "directory of the local servers' data, logs and pid files", Path::of);
    public static final Setting<String> STREAM = new Setting<>("FP_STREAM", "fp:events",
            "Redis Stream key of the event log (with shards, the first part of each shard's stream); no braces",
            Config::streamName);
    public static final Setting<Integer> STREAM_SHARDS = new Setting<>("FP_STREAM_SHARDS", "1",
            "shards of the event log: an entity's events and online state go to the shard its id hashes to; fixed for"
                    + " the life of a store (docs/scaling.md)", positive(1024));
    public static final Setting<Duration> SHARD_LEASE = new Setting<>("FP_SHARD_LEASE", "10s",
            "how long a consumer process holds a shard without renewing; a process that dies has its shards taken"
                    + " over within about this plus a third of it", duration());
    public static final Setting<String> CONSUMER_NAME = new Setting<>("FP_CONSUMER_NAME", "",
            "consumer name in the stream's groups and materialize claims; keep it stable so a restart resumes its pending"
                    + " events (empty: <host name>-<n>, the lowest slot no other process of this host holds)",
            String::trim);
    public static final Setting<Integer> ONLINE_BATCH = new Setting<>("FP_ONLINE_BATCH", "500",
            "events the online consumer reads and applies per round", positive(100_000));
    public static final Setting<Integer> ONLINE_SCRIPT_EVENTS = new Setting<>("FP_ONLINE_SCRIPT_EVENTS", "100",
            "most events one Redis script call of the online consumer applies (Redis answers no read while it runs)",
            positive(5_000));
    public static final Setting<Integer> ONLINE_PRUNE_PERIODS = new Setting<>("FP_ONLINE_PRUNE_PERIODS", "12",
            "tile periods of a size between two drops of an entity's tiles that no window reads any more: the drop"
                    + " reads the entity's field names, so it waits for several periods and drops them at once",
            positive(10_000));
    public static final Setting<Integer> ONLINE_AHEAD = new Setting<>("FP_ONLINE_AHEAD", "4",
            "batches whose MongoDB profile updates may still run while the online consumer applies the next ones to"
                    + " Redis (a batch is acknowledged once both are written); 0 waits for both on every batch",
            between(0, 100));
    public static final Setting<Integer> PROFILE_MAX_OUT_OF_ORDER = new Setting<>("FP_PROFILE_MAX_OUT_OF_ORDER", "10000",
            "events a profile applies after one of its entity's events it has not seen yet (another online consumer"
                    + " holds it) before it gives that one up as lost, counted in featurepipe_profile_sequence_given_up_total",
            positive(1_000_000));
    public static final Setting<Duration> CLAIM_IDLE = new Setting<>("FP_CLAIM_IDLE", "60s",
            "a stream entry pending this long on a consumer that stopped is claimed by another consumer of its group",
            duration());
    public static final Setting<Integer> MAX_DELIVERIES = new Setting<>("FP_MAX_DELIVERIES", "5",
            "failed attempts (a consumer stopped by an unexpected error on it) after which an entry goes to the dead-letter"
                    + " stream; re-reads after a restart or a retry do not count", positive(1000));
    public static final Setting<Duration> CONSUMER_MAX_BACKOFF = new Setting<>("FP_CONSUMER_MAX_BACKOFF", "10s",
            "longest pause of a consumer between two attempts at a batch while a store is unavailable (from 100 ms, doubling)",
            duration());
    public static final Setting<Integer> DEAD_LETTERS_MAX = new Setting<>("FP_DEAD_LETTERS_MAX", "100000",
            "entries the dead-letter stream keeps; the oldest beyond it are dropped and counted", positive(100_000_000));
    public static final Setting<Integer> OFFLINE_BATCH_SIZE = new Setting<>("FP_OFFLINE_BATCH_SIZE", "20000",
            "events per ClickHouse INSERT (a batch is written when it is this big or FP_OFFLINE_BATCH_INTERVAL old)",
            positive(1_000_000));
    public static final Setting<Duration> OFFLINE_BATCH_INTERVAL = new Setting<>("FP_OFFLINE_BATCH_INTERVAL", "1s",
            "longest time an event waits in a batch before it is written to ClickHouse", duration());
    public static final Setting<Integer> STREAM_MAX_BACKLOG = new Setting<>("FP_STREAM_MAX_BACKLOG", "1000000",
            "most entries each shard's stream may hold; ingest answers 503 with Retry-After beyond it (backpressure)",
            positive(1_000_000_000));
    public static final Setting<Integer> STREAM_ENTRY_EVENTS = new Setting<>("FP_STREAM_ENTRY_EVENTS", "100",
            "most events of one ingest request that share a stream entry (the stream and its consumers pay per entry)",
            positive(10_000));
    public static final Setting<Duration> STREAM_TRIM_INTERVAL = new Setting<>("FP_STREAM_TRIM_INTERVAL", "1s",
            "how often the ingest role trims the stream below the oldest entry a consumer group still needs", duration());
    public static final Setting<Integer> HTTP_MAX_BODY_MB = new Setting<>("FP_HTTP_MAX_BODY_MB", "32",
            "largest request body the HTTP API reads, in MiB (larger: 413)", positive(1024));
    public static final Setting<Integer> INGEST_MAX_EVENTS = new Setting<>("FP_INGEST_MAX_EVENTS", "10000",
            "most events one ingest request may carry", positive(1_000_000));
    public static final Setting<Integer> SERVE_MAX_IDS = new Setting<>("FP_SERVE_MAX_IDS", "1000",
            "most entity ids one feature request may ask for (more: 400)", positive(100_000));
    public static final Setting<Duration> SERVE_DEADLINE = new Setting<>("FP_SERVE_DEADLINE", "50ms",
            "longest a feature request waits for its stores; what has not come by then is served with status timeout",
            duration());
    public static final Setting<Duration> SERVE_ONLINE_BUDGET = new Setting<>("FP_SERVE_ONLINE_BUDGET", "20ms",
            "longest a feature request waits for Redis (window, lifetime and batch features)", duration());
    public static final Setting<Duration> SERVE_PROFILE_BUDGET = new Setting<>("FP_SERVE_PROFILE_BUDGET", "10ms",
            "longest a feature request waits for MongoDB (profile fields)", duration());
    public static final Setting<Integer> SERVE_PROFILE_THREADS = new Setting<>("FP_SERVE_PROFILE_THREADS", "16",
            "threads reading profiles for feature requests (when all are busy and 64 reads per thread wait: unavailable)",
            positive(1024));
    public static final Setting<Duration> INGEST_DEDUPE_TTL = new Setting<>("FP_INGEST_DEDUPE_TTL", "24h",
            "how long ingest remembers an event_id, so a re-sent event is not appended twice (0s: never)",
            durationOrZero());
    public static final Setting<Integer> INGEST_WAIT_REPLICAS = new Setting<>("FP_INGEST_WAIT_REPLICAS", "0",
            "replicas of the Redis master that took a request's events which must hold them (WAIT) before ingest answers"
                    + " 202; fewer within FP_INGEST_WAIT_TIMEOUT: 503, safe to retry; 0: answer once the master has them",
            between(0, 100));
    public static final Setting<Duration> INGEST_WAIT_TIMEOUT = new Setting<>("FP_INGEST_WAIT_TIMEOUT", "1s",
            "with FP_INGEST_WAIT_REPLICAS, longest ingest waits for those replicas per shard of a request (keep it below"
                    + " the Redis URL's timeout)", duration());
    public static final Setting<Duration> MAX_FUTURE_SKEW = new Setting<>("FP_MAX_FUTURE_SKEW", "5m",
            "how far in the future an event's ts may be; later is rejected, within it the ingest time is used",
            durationOrZero());
    public static final Setting<Double> MAX_ABS_NUMBER = new Setting<>("FP_MAX_ABS_NUMBER", "1e19",
            "largest magnitude of a number an event holds or a feature or profile rule computes from it; an event"
                    + " beyond it, or with a number that is not finite, is refused (every long passes)", positiveNumber());
    public static final Setting<String> CLICKHOUSE_USER = new Setting<>("FP_CLICKHOUSE_USER", "default",
            "ClickHouse user of every request (sent as a header)", Config::nonEmpty);
    public static final Setting<String> CLICKHOUSE_PASSWORD = new Setting<>("FP_CLICKHOUSE_PASSWORD", "",
            "password of FP_CLICKHOUSE_USER (sent as a header, never logged; prefer the variable to the flag)", text -> text);
    public static final Setting<Integer> HTTP_MAX_IN_FLIGHT = new Setting<>("FP_HTTP_MAX_IN_FLIGHT", "128",
            "most requests the HTTP API works on at once; more get 503 with Retry-After (/healthz is not counted)",
            positive(100_000));
    public static final Setting<Integer> HTTP_MAX_HEADER_KB = new Setting<>("FP_HTTP_MAX_HEADER_KB", "16",
            "largest request line and headers together, in KiB (larger: 431, or 414 when the URI alone is)", positive(1024));
    public static final Setting<Integer> HTTP_MAX_URI_KB = new Setting<>("FP_HTTP_MAX_URI_KB", "8",
            "longest request URI (path and query), in KiB (longer: 414)", positive(1024));
    public static final Setting<String> AUTH = new Setting<>("FP_AUTH", "keys",
            "`keys`: every request but /healthz needs an API key from FP_API_KEYS_FILE; `off`: no access control, for"
                    + " local use only", oneOf("keys", "off"));
    public static final Setting<Path> API_KEYS_FILE = new Setting<>("FP_API_KEYS_FILE", "api-keys.txt",
            "file of API key hashes with their scopes and entities (see Access control)", Path::of);
    public static final Setting<String> AUTH_MONITORING = new Setting<>("FP_AUTH_MONITORING", "open",
            "`open`: /readyz and /metrics answer without a key; `admin`: they need a key with the admin scope",
            oneOf("open", "admin"));
    public static final Setting<Double> RATE_LIMIT = new Setting<>("FP_RATE_LIMIT", "1000",
            "requests per second each API key may make, on average (more: 429 with Retry-After); 0: no limit",
            Config::nonNegative);
    public static final Setting<Integer> RATE_LIMIT_BURST = new Setting<>("FP_RATE_LIMIT_BURST", "2000",
            "requests an API key may make at once above its rate, after a quiet spell", positive(100_000_000));
    public static final Setting<String> LOCAL_REDIS_FSYNC = new Setting<>("FP_LOCAL_REDIS_FSYNC", "everysec",
            "appendfsync of the Redis that './fp services up' starts: everysec (a machine crash can lose the last second"
                    + " of accepted events) or always (fsync before every answer: nothing lost, slower)",
            oneOf("everysec", "always"));
    public static final Setting<Integer> LOCAL_REDIS_CLUSTER_PORT = new Setting<>("FP_LOCAL_REDIS_CLUSTER_PORT", "7001",
            "first port of the Redis Cluster that './fp services up --redis-cluster N' starts: masters x (1 + replicas)"
                    + " nodes on consecutive ports from it, masters first, each with its cluster bus on its port + 10000",
            between(1, 55_535));
    public static final Setting<Duration> LOCAL_REDIS_CLUSTER_NODE_TIMEOUT = new Setting<>(
            "FP_LOCAL_REDIS_CLUSTER_NODE_TIMEOUT", "2s",
            "cluster-node-timeout of that cluster's nodes: how long a master may not answer before its replica is promoted",
            duration());
    public static final Setting<Duration> SHUTDOWN_GRACE = new Setting<>("FP_SHUTDOWN_GRACE", "7s",
            "on SIGTERM, longest the process waits for the requests being answered and for its consumers to write and"
                    + " acknowledge what they hold, before it stops anyway (it ends about 2 s after)", duration());
    public static final Setting<String> REDIS_TLS_CA = new Setting<>("FP_REDIS_TLS_CA", "system",
            "certificates (PEM) a rediss:// server's certificate must chain to; system: the JVM's trusted authorities",
            Config::nonEmpty);
    public static final Setting<Duration> HTTP_BODY_TIMEOUT = new Setting<>("FP_HTTP_BODY_TIMEOUT", "30s",
            "longest a request's body may take to arrive, from the end of its headers (longer: 408), so a client that"
                    + " trickles its body does not hold one of FP_HTTP_MAX_IN_FLIGHT for long", duration());

    public static final List<Setting<?>> ALL = List.of(HTTP_PORT, HTTP_HOST, HTTP_MAX_BODY_MB, REDIS_URL, CLICKHOUSE_URL,
            CLICKHOUSE_DATABASE, CLICKHOUSE_TCP_PORT, CLICKHOUSE_CLUSTER, CLICKHOUSE_REPLICATED, MONGO_URI, MONGO_DATABASE, REGISTRY,
            DATA_DIR, STREAM, STREAM_SHARDS, SHARD_LEASE,
            STREAM_MAX_BACKLOG, STREAM_ENTRY_EVENTS, STREAM_TRIM_INTERVAL,
            CONSUMER_NAME, CLAIM_IDLE, MAX_DELIVERIES, CONSUMER_MAX_BACKOFF, DEAD_LETTERS_MAX, ONLINE_BATCH, ONLINE_SCRIPT_EVENTS, ONLINE_PRUNE_PERIODS, ONLINE_AHEAD, PROFILE_MAX_OUT_OF_ORDER, OFFLINE_BATCH_SIZE, OFFLINE_BATCH_INTERVAL, INGEST_MAX_EVENTS,
            INGEST_DEDUPE_TTL, INGEST_WAIT_REPLICAS, INGEST_WAIT_TIMEOUT, MAX_FUTURE_SKEW, SERVE_MAX_IDS, SERVE_DEADLINE, SERVE_ONLINE_BUDGET, SERVE_PROFILE_BUDGET,
            SERVE_PROFILE_THREADS, MAX_ABS_NUMBER, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD,
            HTTP_MAX_IN_FLIGHT, HTTP_MAX_HEADER_KB, HTTP_MAX_URI_KB, AUTH, API_KEYS_FILE,
            AUTH_MONITORING, RATE_LIMIT, RATE_LIMIT_BURST, LOCAL_REDIS_FSYNC, LOCAL_REDIS_CLUSTER_PORT,
            LOCAL_REDIS_CLUSTER_NODE_TIMEOUT, SHUTDOWN_GRACE, REDIS_TLS_CA, HTTP_BODY_TIMEOUT);

    private final Map<Setting<?>, Object> values = new HashMap<>();
    private final Map<Setting<?>, String> texts = new HashMap<>();
    private final Path home;

    /**
     * @param env the environment (System.getenv() in production)
     * @param flags values given as flags, by setting; they win over the environment
     * @param home the project directory that relative paths are resolved against
     */
    public Config(Map<String, String> env, Map<Setting<?>, String> flags, Path home) {
        this.home = home;
        List<String> errors = new ArrayList<>();
        for (Setting<?> s : ALL) {
            String text = flags.containsKey(s) ? flags.get(s) : env.getOrDefault(s.env(), s.defaultValue());
            try {
                values.put(s, s.parser().apply(text));
                texts.put(s, text);
            } catch (IllegalArgumentException e) {
                errors.add(s.env() + " (" + s.flag() + ") = '" + Secrets.redact(text) + "': " + Secrets.redact(e.getMessage()));
            }
        }
        if (!errors.isEmpty()) {
            throw new ConfigException("invalid configuration:\n  " + String.join("\n  ", errors));
        }
    }

    public static Config fromEnvironment(Path home) {
        return new Config(System.getenv(), Map.of(), home);
    }

    @SuppressWarnings("unchecked")
    public <T> T get(Setting<T> setting) {
        return (T) values.get(setting);
    }

    /** A path setting resolved against the project directory. */
    public Path path(Setting<Path> setting) {
        return home.resolve(get(setting)).normalize();
    }

    public Path home() {
        return home;
    }

    /** A copy with some settings replaced (tests and the demo use it). */
    public Config with(Map<Setting<?>, String> overrides) {
        Map<Setting<?>, String> all = new HashMap<>(texts);
        all.putAll(overrides);
        return new Config(Map.of(), all, home);
    }

    private static String nonEmpty(String text) {
        if (text.isBlank()) {
            throw new IllegalArgumentException("must not be empty");
        }
        return text.trim();
    }

    /** A Redis key holding no brace: each shard's keys carry a hash tag, the text between the first braces. */
    private static String streamName(String text) {
        String name = nonEmpty(text);
        if (name.indexOf('{') >= 0 || name.indexOf('}') >= 0) {
            throw new IllegalArgumentException("must not hold '{' or '}'");
        }
        return name;
    }

    private static String identifier(String text) {
        if (!text.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            throw new IllegalArgumentException("must be letters, digits and _ only");
        }
        return text;
    }

    private static boolean bool(String text) {
        return switch (text.trim()) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("must be true or false");
        };
    }

    private static String identifierOrEmpty(String text) {
        return text.isBlank() ? "" : identifier(text.trim());
    }

    private static Function<String, String> oneOf(String... choices) {
        return text -> {
            String value = text.trim();
            if (!List.of(choices).contains(value)) {
                throw new IllegalArgumentException("must be one of " + String.join(", ", choices));
            }
            return value;
        };
    }

    private static double nonNegative(String text) {
        double value;
        try {
            value = Double.parseDouble(text.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("must be a number");
        }
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException("must be a number of 0 or more");
        }
        return value;
    }

    private static Function<String, Integer> port() {
        return text -> {
            int port = integer(text);
            if (port < 0 || port > 65_535) {
                throw new IllegalArgumentException("must be a port number between 0 and 65535");
            }
            return port;
        };
    }

    private static Function<String, Integer> positive(int max) {
        return between(1, max);
    }

    private static Function<String, Integer> between(int min, int max) {
        return text -> {
            int n = integer(text);
            if (n < min || n > max) {
                throw new IllegalArgumentException("must be between " + min + " and " + max);
            }
            return n;
        };
    }

    private static int integer(String text) {
        try {
            return Integer.parseInt(text.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("must be a whole number");
        }
    }

    private static URI parsedUri(String text) {
        try {
            return URI.create(text.trim());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("is not a URL");
        }
    }

    private static Function<String, URI> uri(String... schemes) {
        return text -> {
            URI uri = parsedUri(text);
            if (!List.of(schemes).contains(uri.getScheme()) || uri.getHost() == null || uri.getPort() < 0) {
                throw new IllegalArgumentException("must look like " + String.join("://host:port or ", schemes) + "://host:port");
            }
            return uri;
        };
    }

    /** An http URL without user information, which would put a password into every error naming the server. */
    /** One Redis as host and port, or a cluster as seed nodes {@code host:port,host:port,...}. */
    private static URI redisUrl(String text) {
        URI uri = parsedUri(text);
        if (List.of("redis-cluster", "rediss-cluster").contains(uri.getScheme())) {
            String authority = uri.getRawAuthority() == null ? "" : uri.getRawAuthority();
            String nodes = authority.substring(authority.lastIndexOf('@') + 1);
            if (!nodes.matches("[^,:/@]+:\\d{1,5}(,[^,:/@]+:\\d{1,5})*") || !(uri.getRawPath() == null || uri.getRawPath().isEmpty())) {
                throw new IllegalArgumentException("must look like redis-cluster://host:port,host:port,... (the seed nodes)");
            }
            return uri;
        }
        try {
            return uri("redis", "rediss").apply(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + " or redis-cluster://host:port,host:port,...");
        }
    }

    private static URI clickhouseUrl(String text) {
        URI url = uri("http").apply(text);
        if (url.getUserInfo() != null) {
            throw new IllegalArgumentException("must not hold a user or password; set FP_CLICKHOUSE_USER and FP_CLICKHOUSE_PASSWORD");
        }
        return url;
    }

    private static String mongoUri(String text) {
        if (!text.startsWith("mongodb://") && !text.startsWith("mongodb+srv://") && !text.trim().equals("embedded")) {
            throw new IllegalArgumentException("must start with mongodb:// or mongodb+srv://, or be embedded");
        }
        return text.trim();
    }

    private static Function<String, Double> positiveNumber() {
        return text -> {
            double d;
            try {
                d = Double.parseDouble(text.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("must be a number");
            }
            if (!(d > 0) || !Double.isFinite(d)) {
                throw new IllegalArgumentException("must be a finite number above 0");
            }
            return d;
        };
    }

    private static Function<String, Duration> duration() {
        return text -> {
            Duration d = Durations.parse(text);
            if (d.isZero()) {
                throw new IllegalArgumentException("must be longer than zero");
            }
            return d;
        };
    }

    private static Function<String, Duration> durationOrZero() {
        return Durations::parse;
    }
}
