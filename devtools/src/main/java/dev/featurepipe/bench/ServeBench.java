package dev.featurepipe.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.mongodb.client.MongoClients;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Stores;
import dev.featurepipe.app.Role;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.materialize.Materializer;
import dev.featurepipe.redis.RedisOnlineStore;
import dev.featurepipe.redis.StreamGroups;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongFunction;
import java.util.function.LongToIntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;

/**
 * Serving at fixed rates against the raw Redis round trip, ingestion, freshness and offline lag, all in one run of
 * one JVM that also runs every role of the pipeline (as {@code ./fp run} does), against the local services:
 * <ol>
 * <li>load: the retail events posted to {@code /v1/events} in NDJSON batches of 1,000 (the batched ingestion
 * figure), then the time the consumer groups take to catch up, then a materialization of the batch features,
 * and a wait for ClickHouse to finish merging and for Redis to rewrite its append-only file;</li>
 * <li>serving, open loop ({@link OpenLoop}): {@code GET /v1/features/customer/{id}?feature_set=reorder_v1} (20
 * features) for random customers at each rate, and at the same rate the baseline: the same Redis keys read by a
 * bare pipelined Lettuce call on the same connection; then higher rates until serving's p99 passes 5 ms; then 100
 * customers per {@code POST /v1/features} at 200 requests/s, against the same baseline for 100 customers;</li>
 * <li>ingestion with single-event requests, closed loop over 16 connections;</li>
 * <li>freshness at a steady 2,000 and 5,000 events/s: probe events on customers of their own, each followed by
 * {@code GET}s every millisecond until served; freshness is from the ingest answer to the first answer that
 * shows it. Meanwhile a poller asks ClickHouse for the newest probe every 20 ms: the offline lag.</li>
 * </ol>
 * The heap in use is sampled every 100 ms throughout. Everything goes to a stream, databases and keys of its own,
 * removed at the end. Run: {@code ./fp bench [--quick]}.
 */
public final class ServeBench {
    /** Requests of the headline figure, and the rates every run measures. */
    static final int HEADLINE_RATE = 2_000;
    static final List<Integer> RATES = List.of(1_000, 2_000, 5_000);
    static final List<Integer> HIGHER_RATES = List.of(7_500, 10_000, 15_000, 20_000, 30_000);
    static final double P99_LIMIT_MS = 5.0;
    static final String FEATURE_SET = "reorder_v1";
    static final int MANY_IDS = 100;
    static final int MANY_RATE = 200;
    /** Steady event rates of the freshness phase; the last is the headline's. */
    static final List<Integer> FRESHNESS_RATES = List.of(2_000, 5_000);
    /** Retail events the freshness phase sends again as its steady background, in file order (invoices together). */
    static final int BACKGROUND_EVENTS = 50_000;
    /** Longest wait after the load for ClickHouse's merges to end, and for Redis's rewrite of its append-only file. */
    static final long SETTLE_LIMIT_SECONDS = 60;
    /** A probe not served this long ends the freshness phase: the consumers are not keeping up. */
    static final long PROBE_GIVE_UP_NANOS = 10_000_000_000L;

    /** One rate: serving and the Redis baseline at it. */
    public record Rated(int rate, OpenLoop.Result serve, OpenLoop.Result redis) {
        double ratio() {
            return serve.millis(99) / redis.millis(99);
        }
    }

    /**
     * Freshness at one steady event rate: from the ingest answer to served, and from sent to queryable in ClickHouse,
     * in microseconds; {@code stalled} says how the consumer groups stood when a probe was not served in time;
     * {@code batches} what the online consumer's batches took meanwhile.
     */
    public record Freshness(int rate, Histogram served, Histogram offlineLag, String stalled, BatchTimes batches) {
    }

    /**
     * The online consumer over a phase, from the pipeline's {@code /metrics}: its batches and the mean time of their
     * Redis side; its profile writes (each takes the batches waiting) and their mean time. The MongoDB side runs
     * behind, by at most FP_ONLINE_AHEAD batches.
     */
    public record BatchTimes(long batches, double redisMeanMillis, long profileWrites, double profilesMeanMillis) {
        private static final Pattern LINE =
                Pattern.compile("featurepipe_online_(batch|profile_writes)_seconds_(count|sum)(\\{[^}]*})? (\\S+)");

        /** count and sum per store, as {@code /metrics} shows them now. */
        static Map<String, Double> scrape(HttpConnection api) throws IOException {
            Map<String, Double> values = new HashMap<>();
            String text = new String(api.body(HttpConnection.get("/metrics")), StandardCharsets.UTF_8);
            for (String line : text.split("\n")) {
                Matcher m = LINE.matcher(line);
                if (m.matches()) {
                    values.put(m.group(1) + "_" + m.group(2), Double.parseDouble(m.group(4)));
                }
            }
            return values;
        }

        static BatchTimes between(Map<String, Double> before, Map<String, Double> after) {
            double batches = delta(before, after, "batch_count");
            double writes = delta(before, after, "profile_writes_count");
            return new BatchTimes((long) batches, 1000 * delta(before, after, "batch_sum") / Math.max(1, batches),
                    (long) writes, 1000 * delta(before, after, "profile_writes_sum") / Math.max(1, writes));
        }

        private static double delta(Map<String, Double> before, Map<String, Double> after, String name) {
            return after.getOrDefault(name, 0.0) - before.getOrDefault(name, 0.0);
        }
    }

    /** Sustained ingestion: events accepted per second, over how many requests. */
    public record Ingest(double eventsPerSecond, long requests, long events, double seconds, long failures) {
    }

    /** The figures of one run. */
    public record Result(int customers, Ingest batched, double catchUpSeconds, List<Rated> single, Rated many,
                         Ingest singleEvents, List<Freshness> freshness, HeapPeaks heap,
                         long heapMaxBytes, List<String> features) {
        Rated at(int rate) {
            return single.stream().filter(r -> r.rate() == rate).findFirst().orElseThrow();
        }

        /** The highest rate whose serving p99 stayed under the limit, or 0. */
        int highestRateUnderLimit() {
            return single.stream().filter(r -> r.serve().millis(99) < P99_LIMIT_MS).mapToInt(Rated::rate).max().orElse(0);
        }
    }

    private final Config config;
    private final Path file;
    private final boolean quick;
    private final PrintStream out;
    private final String run = "bench-" + UUID.randomUUID().toString().substring(0, 8);
    private final ObjectMapper json = new ObjectMapper();
    private final Duration warmUp;
    private final Duration measure;

    public ServeBench(Config config, Path file, boolean quick, PrintStream out) {
        this.config = config;
        this.file = file;
        this.quick = quick;
        this.out = out;
        this.warmUp = Duration.ofSeconds(quick ? 1 : 3);
        this.measure = Duration.ofSeconds(quick ? 3 : 10);
    }

    public Result run() throws InterruptedException {
        String database = run.replace('-', '_');
        Config benchConfig = config.with(Map.of(Config.STREAM, run + ":events", Config.CLICKHOUSE_DATABASE, database,
                Config.MONGO_DATABASE, database, Config.HTTP_PORT, "0", Config.AUTH, "off"));
        HeapSampler heap = new HeapSampler();
        heap.start();
        Pipeline pipeline = Pipeline.start(benchConfig, EnumSet.allOf(Role.class), Clock.systemUTC());
        Registry registry = pipeline.registry();
        try {
            int port = pipeline.httpPort();
            List<Event> events = BenchData.retailEvents(registry, file, quick ? 60_000 : 1_000_000);
            String key = registry.entity("customer").orElseThrow().keyField();
            out.printf(Locale.ROOT, "load: %,d retail events in NDJSON batches of 1,000, 4 in flight%n", events.size());
            Ingest batched = ingestBatched(port, events, key);
            out.printf(Locale.ROOT, "  %,.0f events/s; waiting for the consumer groups ...%n", batched.eventsPerSecond());
            long t0 = System.nanoTime();
            awaitConsumers(pipeline);
            double catchUp = (System.nanoTime() - t0) / 1e9;
            out.printf(Locale.ROOT, "  caught up %.1f s after the last request%n", catchUp);
            pipeline.materializer().ifPresent(m -> registry.batchFeatures().forEach(f -> m.run(f, true, Materializer.Progress.NONE)));
            settle(pipeline.offlineTable(), pipeline.redis().shared().sync());
            List<String> customers = List.copyOf(new LinkedHashSet<>(events.stream().map(Event::entityId).toList()));
            // the rest runs with the heap a serving process would have, keeping only the background's events
            List<String> background = events.subList(0, Math.min(events.size(), BACKGROUND_EVENTS)).stream()
                    .map(e -> eventJson(e, key)).toList();
            events = null;
            List<ServedFeature> vector = registry.featureSet(FEATURE_SET).orElseThrow().features().stream()
                    .map(registry.served("customer")::get).toList();
            Baseline baseline = new Baseline(pipeline, run + ":events", vector);

            List<Rated> single = new ArrayList<>();
            for (int rate : RATES) {
                // the first rate warms up longer: the serving code is compiled by the JIT while it runs
                single.add(serveAt(rate, port, customers, baseline, single.isEmpty() ? warmUp.multipliedBy(5) : warmUp));
            }
            for (int rate : HIGHER_RATES) {
                if (single.get(single.size() - 1).serve().millis(99) >= P99_LIMIT_MS) {
                    break;
                }
                single.add(serveAt(rate, port, customers, baseline, warmUp));
            }
            Rated many = many(port, customers, baseline);
            Ingest singleEvents = ingestSingle(port, key);
            out.printf(Locale.ROOT, "ingest, single-event requests: %,.0f events/s (%,d requests, %,d failed); waiting for"
                    + " the consumer groups ...%n", singleEvents.eventsPerSecond(), singleEvents.requests(), singleEvents.failures());
            awaitConsumers(pipeline);
            List<Freshness> freshness = new ArrayList<>();
            for (int rate : FRESHNESS_RATES) {
                freshness.add(freshness(rate, port, key, background, pipeline.offlineTable(), pipeline.redis().shared().sync(),
                        run + ":events"));
                awaitConsumers(pipeline);
            }
            return new Result(customers.size(), batched, catchUp, single, many, singleEvents, freshness,
                    heap.stop(), Runtime.getRuntime().maxMemory(), vector.stream().map(ServedFeature::name).toList());
        } finally {
            pipeline.close();
            try (Stores cleanup = new Stores(config)) {
                BenchData.deleteKeys(cleanup.redis().shared().sync(), run);
                cleanup.clickhouse().execute("DROP DATABASE IF EXISTS " + database);
            }
            dropMongoDatabase(database);
            heap.stop();
        }
    }

    private void dropMongoDatabase(String database) {
        try (var client = MongoClients.create(config.get(Config.MONGO_URI))) {
            client.getDatabase(database).drop();
        }
    }

    private Rated serveAt(int rate, int port, List<String> customers, Baseline baseline, Duration warm)
            throws InterruptedException {
        byte[][] requests = customers.stream()
                .map(id -> HttpConnection.get("/v1/features/customer/" + id + "?feature_set=" + FEATURE_SET))
                .toArray(byte[][]::new);
        OpenLoop.Result redis = OpenLoop.run(rate, warm, measure, 32, w -> i -> baseline.read(pick(customers, i, 1)));
        OpenLoop.Result serve = http(rate, port, 32, warm, i -> requests[(int) Math.floorMod(mix(i), (long) requests.length)]);
        Rated r = new Rated(rate, serve, redis);
        out.printf(Locale.ROOT, "serve 1 x %d features at %,d req/s: p50 %.3f p99 %.3f p99.9 %.3f ms (%,d requests, %d failed)"
                        + " | redis p50 %.3f p99 %.3f p99.9 %.3f ms | p99 ratio %.2f%n", baseline.features(), rate,
                serve.millis(50), serve.millis(99), serve.millis(99.9), serve.latencyMicros().getTotalCount(), serve.failures(),
                redis.millis(50), redis.millis(99), redis.millis(99.9), r.ratio());
        return r;
    }

    private Rated many(int port, List<String> customers, Baseline baseline) throws InterruptedException {
        List<byte[]> bodies = new ArrayList<>();
        for (int b = 0; b < 64; b++) {
            List<String> ids = pick(customers, b, MANY_IDS);
            String body;
            try {
                body = json.writeValueAsString(Map.of("entity", "customer", "ids", ids, "feature_set", FEATURE_SET));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            bodies.add(HttpConnection.post("/v1/features", "application/json", body.getBytes(StandardCharsets.UTF_8)));
        }
        OpenLoop.Result redis = OpenLoop.run(MANY_RATE, warmUp, measure, 16, w -> i -> baseline.read(pick(customers, i, MANY_IDS)));
        OpenLoop.Result serve = http(MANY_RATE, port, 16, warmUp, i -> bodies.get((int) (i % bodies.size())));
        Rated r = new Rated(MANY_RATE, serve, redis);
        out.printf(Locale.ROOT, "serve %d x %d features at %d req/s: p50 %.3f p99 %.3f p99.9 %.3f ms | redis p50 %.3f p99 %.3f ms%n",
                MANY_IDS, baseline.features(), MANY_RATE, serve.millis(50), serve.millis(99), serve.millis(99.9),
                redis.millis(50), redis.millis(99));
        return r;
    }

    /** Open-loop HTTP requests over keep-alive connections of their own, one per worker. */
    private OpenLoop.Result http(int rate, int port, int workers, Duration warm, LongFunction<byte[]> request)
            throws InterruptedException {
        List<HttpConnection> connections = new ArrayList<>();
        try {
            return OpenLoop.run(rate, warm, measure, workers, w -> {
                HttpConnection c = connect(port);
                connections.add(c);
                return i -> {
                    int status = c.send(request.apply(i));
                    if (status != 200) {
                        throw new IOException("status " + status);
                    }
                };
            });
        } finally {
            closeAll(connections);
        }
    }

    private Ingest ingestBatched(int port, List<Event> events, String key) throws InterruptedException {
        List<byte[]> requests = new ArrayList<>();
        for (int from = 0; from < events.size(); from += 1000) {
            StringBuilder body = new StringBuilder();
            for (Event e : events.subList(from, Math.min(events.size(), from + 1000))) {
                body.append(eventJson(e, key)).append('\n');
            }
            requests.add(HttpConnection.post("/v1/events", "application/x-ndjson", body.toString().getBytes(StandardCharsets.UTF_8)));
        }
        return closedLoop(port, 4, Long.MAX_VALUE, i -> i < requests.size() ? requests.get((int) i) : null,
                i -> (int) Math.min(1000, events.size() - i * 1000));
    }

    private Ingest ingestSingle(int port, String key) throws InterruptedException {
        long until = System.nanoTime() + measure.toNanos();
        return closedLoop(port, 16, until, i -> HttpConnection.post("/v1/events", "application/json",
                        syntheticEvent(run + "-single-" + i, "single-" + (i % 5_000), key, System.currentTimeMillis())),
                i -> 1);
    }

    /**
     * Requests as fast as {@code workers} connections answer them, until {@code request} gives null or the time is
     * up; events/s over the whole run.
     */
    private Ingest closedLoop(int port, int workers, long untilNanos, LongFunction<byte[]> request,
                              LongToIntFunction eventsOf) throws InterruptedException {
        AtomicLong next = new AtomicLong();
        AtomicLong events = new AtomicLong();
        AtomicLong failures = new AtomicLong();
        List<HttpConnection> connections = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int w = 0; w < workers; w++) {
            HttpConnection c = connect(port);
            connections.add(c);
            Thread t = new Thread(() -> {
                for (long i = next.getAndIncrement(); System.nanoTime() < untilNanos; i = next.getAndIncrement()) {
                    byte[] r = request.apply(i);
                    if (r == null) {
                        return;
                    }
                    try {
                        if (c.send(r) == 202) {
                            events.addAndGet(eventsOf.applyAsInt(i));
                        } else {
                            failures.incrementAndGet();
                        }
                    } catch (IOException e) {
                        failures.incrementAndGet();
                        out.println("ingest: a connection failed, its worker stops: " + e.getMessage());
                        return;
                    }
                }
            }, "bench-ingest-" + w);
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        closeAll(connections);
        return new Ingest(events.get() / seconds, next.get(), events.get(), seconds, failures.get());
    }

    /**
     * Background events at a steady rate while probes measure how soon a sent event is served, and a poller how soon
     * ClickHouse shows it; returns {freshness, offline lag} in microseconds.
     */
    private Freshness freshness(int rate, int port, String key, List<String> backgroundEvents, ClickHouseEventTable offline,
                                RedisClusterCommands<String, String> redis, String stream) throws InterruptedException {
        int probes = quick ? 100 : 1_000;
        out.printf(Locale.ROOT, "freshness: %,d probes while %,d events/s flow in%n", probes, rate);
        String probePrefix = "probe" + rate + "-";
        String stalled = null;
        Histogram freshness = new Histogram(60_000_000L, 3);
        List<long[]> sent = new CopyOnWriteArrayList<>(); // {ts of a probe event}
        List<long[]> polls = new CopyOnWriteArrayList<>(); // {poll end, newest probe ts visible}
        AtomicBoolean running = new AtomicBoolean(true);
        Thread background = new Thread(() -> {
            int perRequest = 50;
            long interval = 1_000_000_000L * perRequest / rate;
            try (HttpConnection c = connect(port)) {
                long start = System.nanoTime();
                for (long i = 0; running.get(); i++) {
                    OpenLoop.sleepUntil(start + i * interval); // a fixed schedule: a slow answer is caught up, not skipped
                    StringBuilder body = new StringBuilder();
                    long now = System.currentTimeMillis();
                    for (int e = 0; e < perRequest; e++) {
                        body.append(again(backgroundEvents.get((int) ((i * perRequest + e) % backgroundEvents.size())),
                                i * perRequest + e, now)).append('\n');
                    }
                    c.send(HttpConnection.post("/v1/events", "application/x-ndjson", body.toString().getBytes(StandardCharsets.UTF_8)));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, "bench-background");
        Thread poller = new Thread(() -> {
            while (running.get()) {
                String max = offline.query("SELECT max(ts) FROM " + ClickHouseEventTable.TABLE
                        + " WHERE entity_id LIKE '" + probePrefix + "%' FORMAT TabSeparated").trim();
                polls.add(new long[] {System.currentTimeMillis(), Long.parseLong(max)});
                sleepMillis(20);
            }
        }, "bench-offline-poller");
        background.setDaemon(true);
        background.start();
        sleepMillis(2_000); // the background rate settles first
        poller.start();
        BatchTimes batches;
        try (HttpConnection ingest = connect(port); HttpConnection serve = connect(port)) {
            Map<String, Double> batchesBefore = BatchTimes.scrape(serve);
            for (int p = 0; p < probes; p++) {
                String customer = probePrefix + (p % 50);
                long expected = p / 50 + 1;
                byte[] read = HttpConnection.get("/v1/features/customer/" + customer + "?features=orders_lifetime");
                long ts = System.currentTimeMillis();
                JsonNode answer = json.readTree(ingest.body(HttpConnection.post("/v1/events", "application/json",
                        syntheticEvent(run + "-" + probePrefix + p, customer, key, ts))));
                if (answer.path("accepted").asInt() != 1) {
                    throw new IllegalStateException("a probe event was not accepted as new: " + answer);
                }
                long acked = System.nanoTime();
                sent.add(new long[] {ts});
                while (servedCount(serve, read) < expected && System.nanoTime() - acked < PROBE_GIVE_UP_NANOS) {
                    sleepMillis(1);
                }
                freshness.recordValue((System.nanoTime() - acked) / 1000);
                if (System.nanoTime() - acked >= PROBE_GIVE_UP_NANOS) {
                    stalled = String.format(Locale.ROOT, "probe %d of %d was not served within %d s; consumer groups then: %s", p + 1,
                            probes, PROBE_GIVE_UP_NANOS / 1_000_000_000L, StreamGroups.status(redis, stream).stream()
                                    .map(g -> g.name() + " " + g.lag() + " entries behind").toList());
                    out.println("  " + stalled + "; the phase stops here");
                    break;
                }
            }
            batches = BatchTimes.between(batchesBefore, BatchTimes.scrape(serve));
            long lastTs = sent.get(sent.size() - 1)[0];
            long waitUntil = System.currentTimeMillis() + 60_000;
            while ((polls.isEmpty() || polls.get(polls.size() - 1)[1] < lastTs) && System.currentTimeMillis() < waitUntil) {
                sleepMillis(20);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            running.set(false);
            poller.join();
            background.join(5_000);
        }
        Histogram lag = new Histogram(3_600_000_000L, 3);
        int p = 0;
        for (long[] s : sent) {
            while (p < polls.size() && polls.get(p)[1] < s[0]) {
                p++;
            }
            if (p < polls.size()) {
                lag.recordValue(Math.max(0, polls.get(p)[0] - s[0]) * 1000);
            }
        }
        out.printf(Locale.ROOT, "  served p50 %.1f ms, p99 %.1f ms; in ClickHouse p50 %.0f ms, p99 %.0f ms%n",
                freshness.getValueAtPercentile(50) / 1000.0, freshness.getValueAtPercentile(99) / 1000.0,
                lag.getValueAtPercentile(50) / 1000.0, lag.getValueAtPercentile(99) / 1000.0);
        out.printf(Locale.ROOT, "  online consumer meanwhile: %,d batches, Redis side mean %.1f ms; MongoDB side %,d writes, mean %.1f ms%n",
                batches.batches(), batches.redisMeanMillis(), batches.profileWrites(), batches.profilesMeanMillis());
        return new Freshness(rate, freshness, lag, stalled, batches);
    }

    /** The count a probe's GET shows. */
    private long servedCount(HttpConnection serve, byte[] request) throws IOException {
        return json.readTree(serve.body(request)).at("/features/orders_lifetime").asLong();
    }

    /** A retail event sent again as a new one: a new event_id and invoice, at {@code ts}. */
    private String again(String eventJson, long n, long ts) {
        try {
            ObjectNode e = (ObjectNode) json.readTree(eventJson);
            e.put("event_id", run + "-bg-" + n).put("ts", ts).put("invoice", e.get("invoice").asText() + "-" + run + "-" + n / 20);
            return json.writeValueAsString(e);
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
    }

    private byte[] syntheticEvent(String id, String customer, String key, long ts) {
        return ("{\"event_id\":\"" + id + "\",\"event_type\":\"purchase\",\"" + key + "\":\"" + customer + "\",\"ts\":" + ts
                + ",\"invoice\":\"" + id + "\",\"stock_code\":\"85123A\",\"quantity\":2,\"unit_price\":2.55,\"amount\":5.1"
                + ",\"country\":\"United Kingdom\"}").getBytes(StandardCharsets.UTF_8);
    }

    private String eventJson(Event e, String key) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("event_id", e.id());
        body.put("event_type", e.type());
        body.put(key, e.entityId());
        body.put("ts", e.ts());
        body.putAll(e.fields());
        try {
            return json.writeValueAsString(body);
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
    }

    private static HttpConnection connect(int port) {
        try {
            return new HttpConnection(port);
        } catch (IOException e) {
            throw new UncheckedIOException("connecting to the API on port " + port, e);
        }
    }

    private static void closeAll(List<HttpConnection> connections) {
        for (HttpConnection c : connections) {
            try {
                c.close();
            } catch (IOException e) {
                // closing a benchmark connection: nothing to do
            }
        }
    }

    /** {@code count} customers for call i, spread by a hash of i so that calls do not share a random generator. */
    private static List<String> pick(List<String> customers, long i, int count) {
        List<String> ids = new ArrayList<>(count);
        for (int k = 0; k < count; k++) {
            ids.add(customers.get((int) Math.floorMod(mix(i * 131 + k), (long) customers.size())));
        }
        return ids;
    }

    /** SplitMix64's finalizer. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** Waits until both consumer groups have caught up with the bench's stream. */
    private void awaitConsumers(Pipeline pipeline) throws InterruptedException {
        if (!StreamGroups.awaitCaughtUp(pipeline.redis().shared().sync(), pipeline.stores().shards(), Duration.ofMinutes(20), () -> { })) {
            throw new IllegalStateException("the consumer groups did not catch up within 20 minutes");
        }
    }

    /**
     * Waits (at most {@link #SETTLE_LIMIT_SECONDS} each) until ClickHouse has merged the parts the load wrote and
     * Redis has rewritten its append-only file, then collects the load's garbage, so that the phases after are not
     * measured against the work the load left behind. The rewrite is started here: else Redis starts one by itself
     * once the file has doubled, and its child process then takes one of the two cores for seconds in a later
     * phase (15 s with 300 MB of data).
     */
    private void settle(ClickHouseEventTable offline, RedisClusterCommands<String, String> redis) {
        long until = System.nanoTime() + SETTLE_LIMIT_SECONDS * 1_000_000_000L;
        while (System.nanoTime() < until
                && Long.parseLong(offline.query("SELECT count() FROM system.merges FORMAT TabSeparated").trim()) > 0) {
            sleepMillis(200);
        }
        if (System.nanoTime() >= until) {
            out.printf("  note: ClickHouse was still merging after %d s; the phases after may be disturbed%n", SETTLE_LIMIT_SECONDS);
        }
        if (redis.info("persistence").contains("aof_enabled:1")) {
            try {
                redis.bgrewriteaof();
            } catch (RedisCommandExecutionException e) {
                // a rewrite runs already: it is waited for the same way
            }
            until = System.nanoTime() + SETTLE_LIMIT_SECONDS * 1_000_000_000L;
            while (System.nanoTime() < until && rewritingAppendOnlyFile(redis)) {
                sleepMillis(200);
            }
            if (rewritingAppendOnlyFile(redis)) {
                out.printf("  note: Redis was still rewriting its append-only file after %d s; the phases after may be"
                        + " disturbed%n", SETTLE_LIMIT_SECONDS);
            }
        }
        System.gc();
        sleepMillis(1_000);
    }

    private static boolean rewritingAppendOnlyFile(RedisClusterCommands<String, String> redis) {
        String info = redis.info("persistence");
        return info.contains("aof_rewrite_in_progress:1") || info.contains("aof_rewrite_scheduled:1");
    }

    private static void sleepMillis(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The floor serving sits on: the Redis round trip a serving read of the same features and ids makes when every
     * window is cached (the window cache, the last_n lists, the batch values and their run marks), sent in one write
     * on the connection of feature reads and awaited, without decoding or HTTP.
     */
    private static final class Baseline {
        private final RedisOnlineStore store;
        private final List<ServedFeature> features;

        Baseline(Pipeline pipeline, String namespace, List<ServedFeature> features) {
            this.store = pipeline.stores().onlineStore(namespace, Clock.systemUTC());
            this.features = features;
        }

        int features() {
            return features.size();
        }

        void read(List<String> ids) {
            store.roundTrip("customer", ids, features, Duration.ofSeconds(10));
        }
    }

    /** The largest heap in use (garbage included), and the largest left after a collection (what is live). */
    public record HeapPeaks(long inUseBytes, long afterCollectionBytes) {
    }

    /** The heap's peaks, sampled every 100 ms. */
    private static final class HeapSampler {
        private final AtomicLong inUse = new AtomicLong();
        private final AtomicLong afterCollection = new AtomicLong();
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final Thread thread = new Thread(() -> {
            var memory = ManagementFactory.getMemoryMXBean();
            var heapPools = ManagementFactory.getMemoryPoolMXBeans().stream()
                    .filter(p -> p.getType() == MemoryType.HEAP && p.getCollectionUsage() != null).toList();
            while (running.get()) {
                inUse.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
                afterCollection.accumulateAndGet(heapPools.stream().mapToLong(p -> p.getCollectionUsage().getUsed()).sum(), Math::max);
                sleepMillis(100);
            }
        }, "bench-heap-sampler");

        void start() {
            thread.setDaemon(true);
            thread.start();
        }

        HeapPeaks stop() {
            running.set(false);
            return new HeapPeaks(inUse.get(), afterCollection.get());
        }
    }
}
