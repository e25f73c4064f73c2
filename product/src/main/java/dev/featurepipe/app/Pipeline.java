package dev.featurepipe.app;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.auth.Authenticator;
import dev.featurepipe.clickhouse.BatchSnapshots;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.config.Config;
import dev.featurepipe.consumer.ShardWorkers;
import dev.featurepipe.consumer.StreamConsumer;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.http.HttpApi;
import dev.featurepipe.http.RequestBodies;
import dev.featurepipe.ingest.EventValidator;
import dev.featurepipe.ingest.IngestRoutes;
import dev.featurepipe.ingest.IngestService;
import dev.featurepipe.materialize.MaterializeScheduler;
import dev.featurepipe.materialize.Materializer;
import dev.featurepipe.mongo.MongoProfileStore;
import dev.featurepipe.offline.OfflineSink;
import dev.featurepipe.online.OnlineConsumer;
import dev.featurepipe.redis.RedisConnections;
import dev.featurepipe.redis.RedisOnlineStore;
import dev.featurepipe.redis.RedisEventSource;
import dev.featurepipe.redis.Shards;
import dev.featurepipe.redis.StreamTrimmer;
import dev.featurepipe.serve.FeatureService;
import dev.featurepipe.serve.FeastRoutes;
import dev.featurepipe.serve.ServeRoutes;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One featurepipe process: the roles it was asked to run, wired to their stores, started in order. */
public final class Pipeline implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Pipeline.class);
    /** Longest /readyz waits for a store; one that has not answered by then is not ready. */
    private static final Duration READY_CHECK_BOUND = Duration.ofSeconds(2);
    /** JSON tokens a read request's body may hold besides its ids: the feature names and the keys around them. */
    private static final int READ_BODY_TOKENS = 10_000;

    private final Deque<AutoCloseable> resources = new ArrayDeque<>();
    private final Stores stores;
    private final List<ShardWorkers> consumers = new ArrayList<>();
    private final Duration shutdownGrace;
    private HttpApi http;
    private Materializer materializer;
    private WarmUp warmUp;
    private String consumerName;

    private Pipeline(Config config, Set<Role> roles, Clock clock) {
        this.stores = own(new Stores(config));
        this.shutdownGrace = config.get(Config.SHUTDOWN_GRACE);
        PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try {
            startRoles(config, roles, clock, metrics);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The online group's consumer as the settings make it: no wait to fill a batch, profiles ahead by FP_ONLINE_AHEAD. */
    public static StreamConsumer.Options onlineConsumer(Config config, String consumer) {
        return new StreamConsumer.Options(OnlineConsumer.GROUP, consumer, config.get(Config.ONLINE_BATCH), Duration.ZERO,
                config.get(Config.CLAIM_IDLE), config.get(Config.MAX_DELIVERIES), config.get(Config.STREAM_ENTRY_EVENTS),
                config.get(Config.ONLINE_AHEAD), config.get(Config.CONSUMER_MAX_BACKOFF));
    }

    /** The offline group's consumer as the settings make it, filling a batch for at most {@code maxWait}. */
    public static StreamConsumer.Options offlineConsumer(Config config, String consumer, Duration maxWait) {
        return new StreamConsumer.Options(OfflineSink.GROUP, consumer, config.get(Config.OFFLINE_BATCH_SIZE), maxWait,
                config.get(Config.CLAIM_IDLE), config.get(Config.MAX_DELIVERIES), config.get(Config.STREAM_ENTRY_EVENTS),
                0, config.get(Config.CONSUMER_MAX_BACKOFF));
    }

    private void startRoles(Config config, Set<Role> roles, Clock clock, PrometheusMeterRegistry metrics) {
        Shards shards = stores.shards();
        ObjectMapper json = stores.json();
        Registry registry = stores.registry();
        RedisConnections redis = stores.redis();
        ClickHouseEventTable offlineTable = stores.offlineTable();
        Map<String, BooleanSupplier> checks = new LinkedHashMap<>();
        checks.put("redis", this::redisAnswers);

        MongoProfileStore profiles = null;
        RedisOnlineStore online = null;
        if (roles.contains(Role.ONLINE) || roles.contains(Role.SERVE)) {
            checks.put("mongodb", stores.mongo()::ping);
            profiles = stores.profileStore();
            online = stores.onlineStore(clock);
            online.cacheMetrics().bindTo(metrics);
            profiles.metrics().bindTo(metrics);
        }
        // owned before the roles, so it is released after they stopped
        String consumer = own(ConsumerName.of(config)).name();
        consumerName = consumer;
        BatchSnapshots snapshots = stores.snapshots();
        boolean materializes = roles.contains(Role.MATERIALIZE) && !registry.batchFeatures().isEmpty();
        if (roles.contains(Role.OFFLINE) || materializes) {
            offlineTable.ensureSchema();
            snapshots.ensureSchema();
            checks.put("clickhouse", this::clickhouseAnswers);
        }
        if (roles.contains(Role.OFFLINE)) {
            var sink = new OfflineSink(offlineTable, stores.numberRule(), metrics);
            consumers.add(own(stores.shardWorkers(offlineConsumer(config, consumer, config.get(Config.OFFLINE_BATCH_INTERVAL)),
                    shard -> sink, metrics).start()));
        }
        if (roles.contains(Role.ONLINE)) {
            RedisOnlineStore store = online;
            MongoProfileStore profileStore = profiles;
            // a handler per shard: each keeps its shard's profile writes in its stream's order
            consumers.add(own(stores.shardWorkers(onlineConsumer(config, consumer), shard -> new OnlineConsumer(store,
                    profileStore, stores.numberRule(), metrics, config.get(Config.ONLINE_BATCH)), metrics).start()));
        }
        if (materializes) {
            var store = stores.batchValues(consumer);
            materializer = new Materializer(snapshots, store, clock, metrics);
            own(new MaterializeScheduler(registry.batchFeatures(), materializer, store, clock).start());
        }
        List<HttpApi.Routes> routes = new ArrayList<>();
        var bodies = new RequestBodies(json, config.get(Config.HTTP_MAX_BODY_MB) * 1024L * 1024L,
                config.get(Config.SERVE_MAX_IDS) + READ_BODY_TOKENS, config.get(Config.HTTP_BODY_TIMEOUT));
        if (roles.contains(Role.INGEST)) {
            // groups exist before the first event, so no consumer that starts later misses one
            for (String stream : shards.streams()) {
                RedisEventSource.ensureGroup(redis.shared().sync(), stream, OnlineConsumer.GROUP);
                RedisEventSource.ensureGroup(redis.shared().sync(), stream, OfflineSink.GROUP);
            }
            var eventLog = stores.eventLog();
            own(new StreamTrimmer(redis, shards, config.get(Config.STREAM_TRIM_INTERVAL), metrics));
            var validator = new EventValidator(registry, stores.numberRule(), config.get(Config.MAX_FUTURE_SKEW).toMillis());
            routes.add(new IngestRoutes(new IngestService(registry, validator, eventLog, bodies.json(), clock,
                    config.get(Config.INGEST_MAX_EVENTS), metrics), bodies, json));
        }
        if (roles.contains(Role.SERVE)) {
            var service = own(new FeatureService(registry, online, profiles, clock, metrics, new FeatureService.Options(
                    config.get(Config.SERVE_MAX_IDS), config.get(Config.SERVE_DEADLINE),
                    config.get(Config.SERVE_ONLINE_BUDGET), config.get(Config.SERVE_PROFILE_BUDGET),
                    config.get(Config.SERVE_PROFILE_THREADS))));
            routes.add(new ServeRoutes(service, bodies, json, metrics));
            routes.add(new FeastRoutes(service, registry, bodies, json));
            warmUp = own(new WarmUp(service).start());
        }
        if (!routes.isEmpty()) {
            var storeChecks = own(new StoreChecks(checks, READY_CHECK_BOUND, metrics));
            HttpApi.ReadinessCheck readiness = () -> {
                Map<String, Boolean> status = storeChecks.check();
                Map<String, String> stopped = new LinkedHashMap<>();
                consumers.forEach(c -> c.failures().forEach((shard, why) -> stopped.merge(c.group(),
                        shards.count() == 1 ? why : "shard " + shard + ": " + why, (x, y) -> x + "; " + y)));
                return new HttpApi.Readiness(status, stopped, warmUp == null || warmUp.done());
            };
            var options = new HttpApi.Options(config.get(Config.HTTP_HOST), config.get(Config.HTTP_PORT),
                    config.get(Config.HTTP_MAX_BODY_MB) * 1024L * 1024L, config.get(Config.HTTP_MAX_IN_FLIGHT),
                    config.get(Config.HTTP_MAX_HEADER_KB) * 1024, config.get(Config.HTTP_MAX_URI_KB) * 1024);
            var auth = Authenticator.fromConfig(config, Set.copyOf(registry.entityNames()));
            auth.metrics().bindTo(metrics);
            http = own(new HttpApi(options, routes, readiness, auth, metrics, json).start());
        }
        log.info("pipeline: running roles {}", roles);
    }

    /** Starts the roles; on a failure stops what had started and rethrows. */
    public static Pipeline start(Config config, Set<Role> roles, Clock clock) {
        return new Pipeline(config, roles, clock);
    }

    private <T extends AutoCloseable> T own(T resource) {
        resources.push(resource);
        return resource;
    }

    private boolean redisAnswers() {
        try {
            return "PONG".equals(stores.redis().shared().sync().ping());
        } catch (RuntimeException e) {
            return false;
        }
    }

    private boolean clickhouseAnswers() {
        try {
            return stores.offlineTable().query("SELECT 1 FORMAT TabSeparated").trim().equals("1");
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** The HTTP port, or -1 when this process runs neither ingest nor serve. */
    public int httpPort() {
        return http == null ? -1 : http.port();
    }

    public Registry registry() {
        return stores.registry();
    }

    /** The name this process goes by in the stream's groups and the materialize claims. */
    public String consumerName() {
        return consumerName;
    }

    /** The stores this process built from its configuration. */
    public Stores stores() {
        return stores;
    }

    public RedisConnections redis() {
        return stores.redis();
    }

    /** The materializer of the batch features, when this process runs the materialize role and has any. */
    public Optional<Materializer> materializer() {
        return Optional.ofNullable(materializer);
    }

    public ClickHouseEventTable offlineTable() {
        return stores.offlineTable();
    }

    /**
     * Stops gracefully, within {@code FP_SHUTDOWN_GRACE}: first /readyz fails and new requests get 503 while the
     * requests being answered finish; then the consumers write and acknowledge what they hold, so a restart finds
     * nothing of this process pending; then everything closes.
     */
    @Override
    public void close() {
        if (http != null) {
            int unfinished = http.drain(shutdownGrace);
            if (unfinished > 0) {
                log.warn("pipeline: stopping with {} requests unanswered after {} s", unfinished, shutdownGrace.toSeconds());
            }
        }
        consumers.forEach(ShardWorkers::drain); // every group's consumers finish what they hold at once
        consumers.forEach(ShardWorkers::close);
        while (!resources.isEmpty()) {
            try {
                resources.pop().close();
            } catch (Exception e) {
                log.warn("pipeline: closing failed: {}", e.toString());
            }
        }
    }
}
