package dev.featurepipe.app;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.clickhouse.BatchSnapshots;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.config.Config;
import dev.featurepipe.consumer.BatchHandler;
import dev.featurepipe.consumer.ShardWorkers;
import dev.featurepipe.consumer.StreamConsumer;
import dev.featurepipe.core.EventCodec;
import dev.featurepipe.core.NumberRule;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.mongo.MongoConnection;
import dev.featurepipe.mongo.MongoProfileStore;
import dev.featurepipe.redis.RedisBatchValueStore;
import dev.featurepipe.redis.RedisConnections;
import dev.featurepipe.redis.RedisEventLog;
import dev.featurepipe.redis.RedisEventSource;
import dev.featurepipe.redis.RedisOnlineStore;
import dev.featurepipe.redis.RedisShardLeases;
import dev.featurepipe.redis.Shards;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.function.IntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place the stores are built from the configuration, for the pipeline's roles and for every command and
 * benchmark: the registry, the connections (opened when first asked for, closed with this), and the adapters on
 * them. Names default to the configured stream and databases; the benchmarks name their own.
 */
public final class Stores implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Stores.class);
    private final Config config;
    private final Registry registry;
    /** Numbers with a point are read exactly (decimals stay decimals) and written as plain numbers, never 1E+3. */
    private final ObjectMapper json = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS).enable(JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN);
    private final EventCodec codec;
    private final NumberRule numberRule;
    private final ClickHouseClient clickhouse;
    private RedisConnections redis;
    private final Map<String, Shards> shards = new HashMap<>();
    private MongoConnection mongo;

    public Stores(Config config) {
        this.config = config;
        this.registry = RegistryLoader.load(config.path(Config.REGISTRY));
        this.codec = new EventCodec(json, registry);
        this.numberRule = new NumberRule(registry, config.get(Config.MAX_ABS_NUMBER));
        this.clickhouse = new ClickHouseClient(config.get(Config.CLICKHOUSE_URL), new ClickHouseClient.Credentials(
                config.get(Config.CLICKHOUSE_USER), config.get(Config.CLICKHOUSE_PASSWORD)), null);
    }

    public Config config() {
        return config;
    }

    public Registry registry() {
        return registry;
    }

    /** The JSON mapper of the API and the stream: a trailing token after a value is an error. */
    public ObjectMapper json() {
        return json;
    }

    public EventCodec codec() {
        return codec;
    }

    /** The rule for numbers that ingest and every consumer apply (FP_MAX_ABS_NUMBER). */
    public NumberRule numberRule() {
        return numberRule;
    }

    public synchronized RedisConnections redis() {
        if (redis == null) {
            String ca = config.get(Config.REDIS_TLS_CA);
            redis = new RedisConnections(config.get(Config.REDIS_URL),
                    ca.equals("system") ? null : config.home().resolve(ca).normalize());
        }
        return redis;
    }

    /** The MongoDB connection to the configured database (FP_MONGO_URI=embedded starts the server in this process). */
    public synchronized MongoConnection mongo() {
        if (mongo == null) {
            mongo = MongoConnection.open(config.get(Config.MONGO_URI), config.get(Config.MONGO_DATABASE));
        }
        return mongo;
    }

    /** The ClickHouse server, no database chosen. */
    public ClickHouseClient clickhouse() {
        return clickhouse;
    }

    /** The shards of the configured stream. */
    public Shards shards() {
        return shards(config.get(Config.STREAM));
    }

    /**
     * The shards of a stream, as many as FP_STREAM_SHARDS says, tagged for the Redis the connections go to; checked
     * once against the count the stream was made with.
     */
    public synchronized Shards shards(String stream) {
        return shards.computeIfAbsent(stream, s -> new Shards(s, config.get(Config.STREAM_SHARDS), redis().cluster())
                .check(redis()));
    }

    public RedisOnlineStore onlineStore(Clock clock) {
        return onlineStore(config.get(Config.STREAM), clock);
    }

    /** @param stream the first part of every key */
    public RedisOnlineStore onlineStore(String stream, Clock clock) {
        return new RedisOnlineStore(redis(), registry, shards(stream), clock, config.get(Config.ONLINE_SCRIPT_EVENTS),
                config.get(Config.ONLINE_PRUNE_PERIODS));
    }

    public MongoProfileStore profileStore() {
        return new MongoProfileStore(mongo().database(), registry, config.get(Config.PROFILE_MAX_OUT_OF_ORDER));
    }

    public ClickHouseEventTable offlineTable() {
        return offlineTable(config.get(Config.CLICKHOUSE_DATABASE));
    }

    public ClickHouseEventTable offlineTable(String database) {
        return new ClickHouseEventTable(clickhouse, database, registry, config.get(Config.CLICKHOUSE_CLUSTER),
                config.get(Config.CLICKHOUSE_REPLICATED));
    }

    public BatchSnapshots snapshots() {
        return snapshots(config.get(Config.CLICKHOUSE_DATABASE));
    }

    public BatchSnapshots snapshots(String database) {
        return new BatchSnapshots(clickhouse, database);
    }

    /** Batch feature values under the configured stream's name; {@code owner} names the materializing process. */
    public RedisBatchValueStore batchValues(String owner) {
        return batchValues(config.get(Config.STREAM), owner);
    }

    public RedisBatchValueStore batchValues(String stream, String owner) {
        return new RedisBatchValueStore(redis(), shards(stream), owner);
    }

    public RedisEventLog eventLog() {
        return eventLog(config.get(Config.STREAM));
    }

    public RedisEventLog eventLog(String stream) {
        // an append that waits holds a connection of its own: as many as the requests the API works on at once
        return new RedisEventLog(redis(), codec, shards(stream), config.get(Config.INGEST_DEDUPE_TTL),
                config.get(Config.STREAM_MAX_BACKLOG), config.get(Config.STREAM_ENTRY_EVENTS),
                new RedisEventLog.ReplicaWait(config.get(Config.INGEST_WAIT_REPLICAS),
                        config.get(Config.INGEST_WAIT_TIMEOUT), config.get(Config.HTTP_MAX_IN_FLIGHT)));
    }

    /** A consumer of {@code stream} (one shard's) with these options, not yet started. */
    public StreamConsumer consumer(String stream, StreamConsumer.Options options, BatchHandler handler, MeterRegistry metrics) {
        return new StreamConsumer(source(stream, options), codec, options, handler, metrics);
    }

    /**
     * The consumers of a group in this process, one per shard it holds, each with a handler of its own.
     *
     * @param handlers makes the handler of a shard's consumer
     */
    public ShardWorkers shardWorkers(StreamConsumer.Options options, IntFunction<BatchHandler> handlers,
                                     MeterRegistry metrics) {
        Shards shards = shards();
        ShardWorkers.Shard starter = shard -> {
            RedisEventSource source = source(shards.prefix(shard), options);
            long taken = source.takeOverPending();
            if (taken > 0) {
                log.info("shards {}/{}: took over {} entries left pending on shard {}", options.group(), options.consumer(),
                        taken, shard);
            }
            return new StreamConsumer(source, codec, options, handlers.apply(shard), metrics).start();
        };
        return new ShardWorkers(options.group(), options.consumer(), shards.count(),
                new RedisShardLeases(redis(), shards, options.group()), starter, config.get(Config.SHARD_LEASE),
                config.get(Config.SHUTDOWN_GRACE), metrics);
    }

    private RedisEventSource source(String stream, StreamConsumer.Options options) {
        return new RedisEventSource(redis(), stream, options.group(), options.consumer(), config.get(Config.DEAD_LETTERS_MAX));
    }

    @Override
    public synchronized void close() {
        if (mongo != null) {
            mongo.close();
        }
        if (redis != null) {
            redis.close();
        }
    }
}
