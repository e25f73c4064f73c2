package dev.featurepipe.serve;

import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.Ids;
import dev.featurepipe.core.Materialized;
import dev.featurepipe.core.OnlineStore;
import dev.featurepipe.core.ProfileStore;
import dev.featurepipe.core.StoreTimeoutException;
import dev.featurepipe.core.StoreUnavailableException;
import dev.featurepipe.core.registry.FeatureSet;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.http.ApiException;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Assembles feature vectors from the online store and the profile store, one round trip to each per request, both
 * in flight at once. Each source gets its budget within the request's deadline; a source that fails or has not
 * answered in time leaves its features with the status {@code unavailable} or {@code timeout}, and the answer goes
 * out with what the others gave.
 */
public final class FeatureService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FeatureService.class);
    private static final long WARN_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);
    /** The id {@link #warmUp} reads; no entity needs to have it. */
    private static final String WARM_UP_ID = "featurepipe-warm-up";

    /**
     * @param maxIds most ids per request
     * @param deadline longest time a request waits for its sources, all together
     * @param onlineBudget longest wait for the online store (Redis)
     * @param profileBudget longest wait for the profile store (MongoDB)
     * @param profileThreads threads reading profiles; a request finding all busy and 64 per thread queued gets
     *                       its profile fields as {@code unavailable}
     */
    public record Options(int maxIds, Duration deadline, Duration onlineBudget, Duration profileBudget,
                          int profileThreads) {
    }

    private final Registry registry;
    private final OnlineStore online;
    private final ProfileStore profiles;
    private final Clock clock;
    private final MeterRegistry metrics;
    private final Options options;
    private final ThreadPoolExecutor profileReaders;
    private final Timer onlineLatency;
    private final Timer profileLatency;
    private final Map<String, Long> lastWarned = new ConcurrentHashMap<>();
    /** Whether this thread is warming up: then a source's failure is neither counted nor logged. */
    private final ThreadLocal<Boolean> warmingUp = ThreadLocal.withInitial(() -> false);

    public FeatureService(Registry registry, OnlineStore online, ProfileStore profiles, Clock clock,
                          MeterRegistry metrics, Options options) {
        this.registry = registry;
        this.online = online;
        this.profiles = profiles;
        this.clock = clock;
        this.metrics = metrics;
        this.options = options;
        this.onlineLatency = sourceLatency(metrics, "online");
        this.profileLatency = sourceLatency(metrics, "profile");
        AtomicInteger threads = new AtomicInteger();
        this.profileReaders = new ThreadPoolExecutor(options.profileThreads(), options.profileThreads(), 0,
                TimeUnit.SECONDS, new ArrayBlockingQueue<>(64 * options.profileThreads()), r -> {
                    Thread t = new Thread(r, "serve-profile-" + threads.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
    }

    private static Timer sourceLatency(MeterRegistry metrics, String source) {
        return Timer.builder("featurepipe.serve.source.latency").tag("source", source)
                .description("time one read of a source took, answered or failed").publishPercentileHistogram()
                .register(metrics);
    }

    /** What became of one source's read: its values, or why there are none. */
    private record SourceAnswer(Map<String, Map<String, Object>> values, String failure) {
        static final SourceAnswer NOT_ASKED = new SourceAnswer(Map.of(), null);

        static SourceAnswer failed(String status) {
            return new SourceAnswer(Map.of(), status);
        }
    }

    /**
     * @param names the features wanted; empty for all of the entity
     * @throws ApiException 404 for an unknown entity, 400 for unknown feature names or too many ids
     */
    public List<FeatureVector> vectors(String entity, List<String> ids, List<String> names) {
        long started = System.nanoTime();
        long deadline = started + options.deadline().toNanos();
        if (registry.entity(entity).isEmpty()) {
            throw new ApiException(404, "unknown entity '" + entity + "'", List.of("known entities: " + registry.entityNames()));
        }
        if (ids.isEmpty() || ids.size() > options.maxIds()) {
            throw new ApiException(400, "ask for 1 to " + options.maxIds() + " ids per request, not " + ids.size(), List.of());
        }
        for (int i = 0; i < ids.size(); i++) {
            int at = i;
            Ids.problem(ids.get(i)).ifPresent(p -> {
                throw new ApiException(400, "id " + at + " " + p + "; no event can have such an id", List.of());
            });
        }
        List<ServedFeature> features = select(entity, names);
        long now = clock.millis();
        Future<Map<String, Map<String, Object>>> profileRead = readProfiles(entity, ids, features);
        SourceAnswer onlineAnswer = readOnline(entity, ids, features, now,
                Math.min(deadline, started + options.onlineBudget().toNanos()));
        SourceAnswer profileAnswer = awaitProfiles(profileRead,
                Math.min(deadline, started + options.profileBudget().toNanos()));
        List<FeatureVector> vectors = new ArrayList<>(ids.size());
        for (String id : ids) {
            Map<String, Object> values = new LinkedHashMap<>();
            Map<String, String> status = new LinkedHashMap<>();
            Map<String, Long> computedAt = new LinkedHashMap<>();
            for (ServedFeature f : features) {
                SourceAnswer source = f instanceof ServedFeature.ProfileValue ? profileAnswer : onlineAnswer;
                Map<String, Object> found = source.values().getOrDefault(id, Map.of());
                boolean known = found.containsKey(f.name());
                Object value = known ? found.get(f.name()) : source.failure() != null ? null : emptyValue(f);
                String state = known ? "ok" : source.failure() != null ? source.failure() : "missing";
                if (value instanceof Materialized m) {
                    value = m.value();
                    computedAt.put(f.name(), m.computedAt());
                    if (f instanceof ServedFeature.BatchValue b && now - m.computedAt() > 2 * b.feature().refresh().toMillis()) {
                        state = "stale";
                    }
                }
                values.put(f.name(), value);
                status.put(f.name(), state);
            }
            vectors.add(new FeatureVector(entity, id, values, status, computedAt));
        }
        return vectors;
    }

    private SourceAnswer readOnline(String entity, List<String> ids, List<ServedFeature> features, long now,
                                    long untilNanos) {
        if (features.stream().allMatch(ServedFeature.ProfileValue.class::isInstance)) {
            return SourceAnswer.NOT_ASKED;
        }
        long started = System.nanoTime();
        try {
            Duration budget = Duration.ofNanos(Math.max(0, untilNanos - started));
            return new SourceAnswer(online.read(entity, ids, features, now, budget), null);
        } catch (StoreTimeoutException e) {
            return failed("online", "timeout", e);
        } catch (StoreUnavailableException e) {
            return failed("online", "unavailable", e);
        } finally {
            onlineLatency.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
        }
    }

    private Future<Map<String, Map<String, Object>>> readProfiles(String entity, List<String> ids,
                                                                 List<ServedFeature> features) {
        if (features.stream().noneMatch(ServedFeature.ProfileValue.class::isInstance)) {
            return null;
        }
        try {
            return profileReaders.submit(() -> profileLatency.recordCallable(() -> profiles.read(entity, ids)));
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(new StoreUnavailableException(
                    "every profile reader is busy and " + profileReaders.getQueue().size() + " reads wait", e));
        }
    }

    private SourceAnswer awaitProfiles(Future<Map<String, Map<String, Object>>> read, long untilNanos) {
        if (read == null) {
            return SourceAnswer.NOT_ASKED;
        }
        try {
            return new SourceAnswer(read.get(Math.max(0, untilNanos - System.nanoTime()), TimeUnit.NANOSECONDS), null);
        } catch (TimeoutException e) {
            read.cancel(true);
            return failed("profile", "timeout", new StoreTimeoutException("MongoDB: no profile within "
                    + options.profileBudget().toMillis() + " ms"));
        } catch (ExecutionException e) {
            return failed("profile", "unavailable", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return failed("profile", "unavailable", e);
        }
    }

    private SourceAnswer failed(String source, String status, Throwable cause) {
        if (warmingUp.get()) {
            return SourceAnswer.failed(status); // the cold paths' timeouts are what the warm-up is for
        }
        metrics.counter("featurepipe.serve.source.failures", "source", source, "reason", status).increment();
        long now = System.nanoTime();
        Long last = lastWarned.get(source);
        if (last == null || now - last > WARN_EVERY_NANOS) {
            lastWarned.put(source, now); // a race here costs one extra line, not a flood
            log.warn("serve: {} store {}, serving without its features (logged once per 10 s; every one is counted in"
                    + " featurepipe_serve_source_failures_total): {}", source, status, cause.getMessage());
        }
        return SourceAnswer.failed(status);
    }

    /**
     * The features a request asks for: those of its feature set, else the names it gives (empty: all).
     *
     * @param featureSet a feature set of the registry, or null
     * @throws ApiException 400 for an unknown feature set, one of another entity, or both a set and names
     */
    public List<String> wanted(String entity, List<String> names, String featureSet) {
        if (featureSet == null) {
            return names;
        }
        if (!names.isEmpty()) {
            throw new ApiException(400, "ask for features by name or by feature set, not both", List.of());
        }
        FeatureSet set = registry.featureSet(featureSet).orElseThrow(() -> new ApiException(400,
                "unknown feature set '" + featureSet + "'", List.of("feature sets: " + registry.featureSets().stream()
                        .map(FeatureSet::name).toList())));
        if (!set.entity().equals(entity)) {
            throw new ApiException(400, "feature set '" + featureSet + "' is of entity '" + set.entity() + "', not '"
                    + entity + "'", List.of());
        }
        return set.features();
    }

    /** What a feature is without any state: 0 for count, sum and count_distinct, else null. */
    private static Object emptyValue(ServedFeature f) {
        return f instanceof ServedFeature.WindowValue w ? w.feature().emptyValue() : null;
    }

    private List<ServedFeature> select(String entity, List<String> names) {
        Map<String, ServedFeature> served = registry.served(entity);
        if (names.isEmpty()) {
            return List.copyOf(served.values());
        }
        List<String> unknown = names.stream().filter(n -> !served.containsKey(n)).toList();
        if (!unknown.isEmpty()) {
            throw new ApiException(400, "unknown feature(s) of entity '" + entity + "': " + unknown,
                    List.of("features of '" + entity + "': " + served.keySet()));
        }
        return names.stream().distinct().map(served::get).toList();
    }

    /**
     * Runs the read paths until they answer in time, so that the first requests do not pay for them: every profile
     * reader at once, each opening its MongoDB connection, then a read of every feature of each entity, until one
     * comes back with no source timed out or unavailable. Waits (and retries) while a store does not answer.
     *
     * @throws InterruptedException when the service closes meanwhile
     */
    public void warmUp() throws InterruptedException {
        warmingUp.set(true);
        try {
            profileReaders.prestartAllCoreThreads();
            for (String entity : registry.entityNames()) {
                while (!warm(entity, List.of(WARM_UP_ID))) {
                    Thread.sleep(200);
                }
            }
        } finally {
            warmingUp.set(false);
        }
    }

    /**
     * The same reads of an entity that has a profile, once there is one: decoding a real document loads code an
     * empty answer does not, and the first read of one would otherwise miss its budget.
     *
     * @return whether every entity with profile features had a profile to read
     */
    public boolean warmUpOnData() throws InterruptedException {
        warmingUp.set(true);
        try {
            for (String entity : registry.entityNames()) {
                if (registry.served(entity).values().stream().noneMatch(ServedFeature.ProfileValue.class::isInstance)) {
                    continue;
                }
                List<String> ids = profiles.sampleIds(entity, 1);
                if (ids.isEmpty() || !warm(entity, ids)) {
                    return false;
                }
            }
            return true;
        } catch (FeaturepipeException e) {
            return false; // a store that fails now is tried again at the next poll
        } finally {
            warmingUp.set(false);
        }
    }

    private boolean warm(String entity, List<String> id) throws InterruptedException {
        List<String> features = List.copyOf(registry.served(entity).keySet());
        CountDownLatch together = new CountDownLatch(options.profileThreads());
        List<Future<?>> reads = new ArrayList<>();
        for (int i = 0; i < options.profileThreads(); i++) {
            reads.add(profileReaders.submit(() -> {
                together.countDown();
                together.await(); // each on a thread of its own, so each opens a connection of its own
                return profiles.read(entity, id);
            }));
        }
        try {
            for (Future<?> read : reads) {
                read.get();
            }
        } catch (ExecutionException e) {
            return false;
        }
        return vectors(entity, id, features).get(0).status().values().stream()
                .noneMatch(s -> s.equals("timeout") || s.equals("unavailable"));
    }

    @Override
    public void close() {
        profileReaders.shutdownNow();
    }
}
