package dev.featurepipe.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.redis.RedisConnections;
import dev.featurepipe.redis.StreamGroups;
import dev.featurepipe.services.LocalServices;
import dev.featurepipe.services.ServiceAddresses;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * {@code ./fp chaos}: the pipeline as separate role processes on servers of its own, a steady stream of events with
 * a known ground truth, and one fault after another. After each fault the run waits until the pipeline is healthy
 * again (within {@link #RECOVERY_LIMIT}), lets the stream run a little longer, stops it, and compares every store
 * with the ground truth: ClickHouse's distinct event ids with the accepted events, the online values and the
 * profiles with the counts, sums and largest sequence numbers of the accepted events.
 */
public final class ChaosRun {
    /** The longest a scenario may take, from the end of its fault, to be healthy again. */
    public static final Duration RECOVERY_LIMIT = Duration.ofSeconds(120);
    static final Duration CLAIM_IDLE = Duration.ofSeconds(3);
    private static final String STREAM = "chaos:events";
    private static final String DATABASE = "chaos";
    private static final List<String> ONLINE_FEATURES = List.of("ticks_1h", "ticks_lifetime", "seq_sum_1h",
            "seq_sum_lifetime", "seqs", "seq_max", "ticks_seen", "seq_total", "seq_top");

    /** How long and how hard: --quick shortens every phase and the outage of ClickHouse. */
    public record Options(boolean quick, int basePort, Path home, Path jar, Path dataDir, String redisFsync) {
        double eventsPerSecond() {
            return quick ? 200 : 1000;
        }

        int accounts() {
            return quick ? 100 : 200;
        }

        Duration warm() {
            return Duration.ofSeconds(quick ? 3 : 10);
        }

        Duration tail() {
            return Duration.ofSeconds(quick ? 2 : 5);
        }

        Duration clickhouseOutage() {
            return Duration.ofSeconds(quick ? 8 : 30);
        }
    }

    /** One scenario's line of the report. */
    public record Row(String scenario, double eventsPerSecond, long accepted, long resent, double recoverySeconds,
                      boolean recovered, long lost, long duplicated, long problems, String verified) {
    }

    private interface Fault {
        /** Injects the fault, holds it, and ends it (the healing, e.g. a restart). */
        void run() throws Exception;
    }

    /** @param verified what was checked, with what the fault did (read after the fault) */
    private record Scenario(String name, Fault fault, Supplier<String> verified) {
    }

    private final Options options;
    private final PrintStream out;
    private final ObjectMapper json = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final LocalServices services;
    private final URI redisUrl;
    private final URI clickhouseUrl;
    private final int ingestPort;
    private final int servePort;
    private final List<String> poisonPositions = new ArrayList<>();
    private ChaosRelay relay;
    private RoleProcess ingest;
    private RoleProcess serve;
    private RoleProcess online1;
    private RoleProcess online2;
    private RoleProcess offline;
    private ChaosLoad load;
    private RedisConnections redis;

    public ChaosRun(Options options, PrintStream out) {
        this.options = options;
        this.out = out;
        int p = options.basePort();
        redisUrl = URI.create("redis://127.0.0.1:" + p);
        clickhouseUrl = URI.create("http://127.0.0.1:" + (p + 1));
        services = new LocalServices(new ServiceAddresses(redisUrl, clickhouseUrl, p + 2, "mongodb://127.0.0.1:" + (p + 3)),
                options.redisFsync(), options.dataDir(), out);
        ingestPort = p + 5;
        servePort = p + 6;
    }

    /** Runs every scenario; the rows of the report, one per scenario. */
    public List<Row> run() throws Exception {
        services.down(); // what an aborted run left behind
        deleteTree(options.dataDir());
        Path logs = Files.createDirectories(options.dataDir().resolve("logs"));
        List<String> started = services.up();
        List<RoleProcess> processes = new ArrayList<>();
        try {
            relay = new ChaosRelay(options.basePort() + 4, clickhouseUrl);
            redis = new RedisConnections(redisUrl);
            Map<String, String> env = new HashMap<>(Map.of(
                    "FP_REDIS_URL", redisUrl.toString(),
                    "FP_CLICKHOUSE_URL", "http://127.0.0.1:" + (options.basePort() + 4),
                    "FP_MONGO_URI", "mongodb://127.0.0.1:" + (options.basePort() + 3),
                    "FP_REGISTRY", options.home().resolve("registry/chaos.yaml").toString(),
                    "FP_STREAM", STREAM,
                    "FP_CLICKHOUSE_DATABASE", DATABASE,
                    "FP_MONGO_DATABASE", DATABASE,
                    "FP_CLAIM_IDLE", CLAIM_IDLE.toSeconds() + "s",
                    "FP_CONSUMER_MAX_BACKOFF", "1s",
                    "FP_OFFLINE_BATCH_INTERVAL", "200ms"));
            env.putAll(Map.of("FP_AUTH", "off", "FP_SERVE_DEADLINE", "10s", "FP_SERVE_ONLINE_BUDGET", "10s",
                    "FP_SERVE_PROFILE_BUDGET", "10s"));
            ingest = role("chaos-ingest", "ingest", env, ingestPort, logs);
            serve = role("chaos-serve", "serve", env, servePort, logs);
            online1 = role("chaos-online-1", "online", env, 0, logs);
            online2 = role("chaos-online-2", "online", env, 0, logs);
            offline = role("chaos-offline-1", "offline", env, 0, logs);
            processes.addAll(List.of(ingest, serve, online1, online2, offline));
            ingest.start(); // it makes the consumer groups
            awaitReady(ingestPort, Duration.ofSeconds(60));
            processes.stream().filter(r -> r != ingest).forEach(RoleProcess::start);
            awaitReady(servePort, Duration.ofSeconds(60));
            load = new ChaosLoad(URI.create("http://127.0.0.1:" + ingestPort), "acct", options.accounts(),
                    options.quick() ? 2 : 4, options.eventsPerSecond());
            out.printf(Locale.ROOT, "chaos: %s run, %,.0f events/s over %d accounts; role processes: ingest, serve, "
                            + "2 online, 1 offline (FP_CLAIM_IDLE %ds); logs in %s%n", options.quick() ? "quick" : "full",
                    options.eventsPerSecond(), options.accounts(), CLAIM_IDLE.toSeconds(), logs);
            List<Row> rows = new ArrayList<>();
            Verdict before = new Verdict(0, 0, 0, List.of());
            for (Scenario s : scenarios()) {
                long accepted0 = load.acceptedEvents();
                long resent0 = load.resent();
                out.println("chaos: " + s.name() + " ...");
                load.start();
                sleep(options.warm());
                s.fault().run();
                long healed = System.nanoTime();
                String healId = lastEntryId();
                boolean recovered = awaitRecovered(healId, healed + RECOVERY_LIMIT.toNanos());
                double recovery = (System.nanoTime() - healed) / 1e9;
                sleep(options.tail());
                load.stop();
                Verdict now = verify();
                Row row = new Row(s.name(), options.eventsPerSecond(), load.acceptedEvents() - accepted0,
                        load.resent() - resent0, recovery, recovered, now.lost() - before.lost(),
                        now.duplicated() - before.duplicated(), now.problems() - before.problems(), s.verified().get());
                rows.add(row);
                out.printf(Locale.ROOT, "chaos: %s: %s in %.1f s; %,d events accepted (%,d requests sent again); lost %d,"
                                + " duplicated %d, other differences %d%n", s.name(), recovered ? "recovered" : "NOT recovered", recovery,
                        row.accepted(), row.resent(), row.lost(), row.duplicated(), row.problems());
                now.examples().forEach(e -> out.println("  " + e));
                before = now;
            }
            out.println("chaos: ingest answers by HTTP status (-1: no answer): " + load.statuses());
            return rows;
        } finally {
            if (load != null) {
                load.stop();
            }
            for (RoleProcess p : processes) {
                p.close();
            }
            if (relay != null) {
                relay.close();
            }
            if (redis != null) {
                redis.close();
            }
            services.down(started);
        }
    }

    private RoleProcess role(String name, String roles, Map<String, String> env, int port, Path logs) {
        Map<String, String> own = new HashMap<>(env);
        own.put("FP_HTTP_PORT", Integer.toString(port));
        return new RoleProcess(name, roles, options.jar(), options.home(), own, logs);
    }

    private List<Scenario> scenarios() {
        Supplier<String> all = () -> "ClickHouse ids, online values, profiles";
        long[] relayErrors = new long[1];
        return List.of(
                new Scenario("ingest SIGKILL", () -> restartAfterKill(ingest),
                        () -> all.get() + "; unanswered requests sent again with the same event ids"),
                new Scenario("online worker SIGKILL", () -> restartAfterKill(online1), all),
                new Scenario("offline worker SIGKILL", () -> restartAfterKill(offline), all),
                new Scenario("online worker SIGSTOP " + (2 * CLAIM_IDLE.toSeconds() + 1) + " s, then SIGCONT", () -> {
                    online1.pause();
                    sleep(CLAIM_IDLE.multipliedBy(2).plusSeconds(1));
                    online1.resume();
                }, () -> all.get() + "; its entries claimed by the other online worker"),
                new Scenario("Redis SIGKILL, restarted from its AOF", () -> {
                    if (!services.kill("redis")) {
                        throw new IllegalStateException("the chaos Redis was not running");
                    }
                    sleep(Duration.ofSeconds(2));
                    services.up();
                }, all),
                new Scenario("ClickHouse stopped " + options.clickhouseOutage().toSeconds() + " s", () -> {
                    services.down(List.of("clickhouse"));
                    sleep(options.clickhouseOutage());
                    services.up();
                }, all),
                new Scenario("ClickHouse answering 502/500 through the relay", () -> {
                    relay.failing(true);
                    sleep(Duration.ofSeconds(options.quick() ? 4 : 10));
                    relay.failing(false);
                    relayErrors[0] = relay.errorsAnswered();
                }, () -> all.get() + "; " + relayErrors[0] + " requests answered with an error, half of them written first"),
                new Scenario("MongoDB-protocol server restarted", () -> {
                    services.down(List.of("mongo"));
                    services.up();
                }, all),
                new Scenario("poison events among good ones", () -> {
                    load.poison(true);
                    for (int i = 0; i < 5; i++) {
                        poisonPositions.add(redis.shared().sync().xadd(STREAM, Map.of("e", i % 2 == 0
                                ? "{\"id\":\"poison-" + i + "\",\"type\":\"no_such_type\",\"entity_id\":\"x\",\"ts\":1,\"fields\":{}}"
                                : "not an event " + i)) + "/0");
                        sleep(Duration.ofMillis(500));
                    }
                    load.poison(false);
                }, () -> all.get() + "; " + load.refusedInvalid() + " requests with an invalid event refused with 400, "
                        + poisonPositions.size() + " stream entries that are no event dead-lettered by both groups, no other dead letter"));
    }

    private static void restartAfterKill(RoleProcess p) throws InterruptedException {
        p.kill();
        sleep(Duration.ofSeconds(1));
        p.start();
    }

    /**
     * Healthy again: the ingest and serving processes ready, every role process running, and both consumer groups
     * have processed and acknowledged every entry appended up to the end of the fault.
     */
    private boolean awaitRecovered(String healId, long deadlineNanos) throws InterruptedException {
        while (System.nanoTime() < deadlineNanos) {
            if (ready(ingestPort) && ready(servePort) && Stream.of(ingest, serve, online1, online2, offline).allMatch(RoleProcess::alive)
                    && processedUpTo(healId)) {
                return true;
            }
            Thread.sleep(100);
        }
        return false;
    }

    private boolean processedUpTo(String id) {
        if (id == null) {
            return true;
        }
        try {
            RedisClusterCommands<String, String> r = redis.shared().sync();
            List<StreamGroups.GroupStatus> groups = StreamGroups.status(r, STREAM);
            if (groups.size() != 2) {
                return false; // the online and offline groups
            }
            for (StreamGroups.GroupStatus g : groups) {
                if (compareIds(g.lastDelivered(), id) < 0
                        || !r.xpending(STREAM, g.name(), Range.create("-", id), Limit.from(1)).isEmpty()) {
                    return false;
                }
            }
            return true;
        } catch (RuntimeException e) {
            return false; // Redis not back yet
        }
    }

    private String lastEntryId() {
        for (int attempt = 0; ; attempt++) {
            try {
                List<StreamMessage<String, String>> last = redis.shared().sync().xrevrange(STREAM, Range.create("-", "+"), Limit.from(1));
                return last.isEmpty() ? null : last.get(0).getId();
            } catch (RuntimeException e) {
                if (attempt > 100) {
                    throw e;
                }
                sleep(Duration.ofMillis(200));
            }
        }
    }

    private static int compareIds(String a, String b) {
        String[] x = a.split("-");
        String[] y = b.split("-");
        int c = Long.compare(Long.parseLong(x[0]), Long.parseLong(y[0]));
        return c != 0 ? c : Long.compare(Long.parseLong(x[1]), Long.parseLong(y[1]));
    }

    /** Once both groups have processed every entry: every store against the ground truth. */
    private Verdict verify() throws Exception {
        // not StreamGroups.awaitCaughtUp: a group's lag stays above 0 after Redis restarted from its AOF
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (!processedUpTo(lastEntryId())) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the consumer groups did not catch up within 3 minutes: "
                        + StreamGroups.status(redis.shared().sync(), STREAM));
            }
            Thread.sleep(200);
        }
        Map<String, Set<Long>> accepted = load.accepted();
        Map<String, Set<Long>> inClickHouse = clickhouseSeqs();
        Map<String, JsonNode> served = served(List.copyOf(accepted.keySet()));
        Verdict.Builder verdict = new Verdict.Builder();
        for (Map.Entry<String, Set<Long>> a : accepted.entrySet()) {
            Set<Long> seqs = a.getValue();
            JsonNode f = served.get(a.getKey());
            long max = seqs.stream().mapToLong(Long::longValue).max().orElse(0);
            List<Verdict.Held> held = new ArrayList<>();
            held.add(Verdict.ofSet("ClickHouse", seqs, inClickHouse.getOrDefault(a.getKey(), Set.of())));
            long distinct = f.path("seqs").asLong();
            held.add(new Verdict.Held("online seqs (distinct)", Math.max(0, seqs.size() - distinct), 0));
            held.add(Verdict.ofCount("online ticks_lifetime", seqs, f.path("ticks_lifetime").asLong(), f.path("seq_sum_lifetime").asLong()));
            held.add(Verdict.ofCount("online ticks_1h", seqs, f.path("ticks_1h").asLong(), f.path("seq_sum_1h").asLong()));
            held.add(Verdict.ofCount("profile ticks_seen", seqs, f.path("ticks_seen").asLong(), f.path("seq_total").asLong()));
            verdict.account(a.getKey(), held);
            if (!seqs.isEmpty() && (f.path("seq_max").asLong() != max || f.path("seq_top").asLong() != max)) {
                verdict.problem(a.getKey() + ": largest seq " + max + ", online " + f.path("seq_max") + ", profile " + f.path("seq_top"));
            }
        }
        inClickHouse.keySet().stream().filter(k -> !accepted.containsKey(k))
                .forEach(k -> verdict.account(k, List.of(Verdict.ofSet("ClickHouse", Set.of(), inClickHouse.get(k)))));
        checkDeadLetters(verdict);
        return verdict.build();
    }

    /** The dead letters are exactly the poison entries, once per group: a good event there is lost. */
    private void checkDeadLetters(Verdict.Builder verdict) {
        Set<String> expected = new HashSet<>();
        for (String position : poisonPositions) {
            expected.add("online " + position);
            expected.add("offline " + position);
        }
        Set<String> found = new HashSet<>();
        for (StreamMessage<String, String> m : redis.shared().sync().xrange(STREAM + ":dead", Range.create("-", "+"))) {
            String letter = m.getBody().get("group") + " " + m.getBody().get("id");
            if (!expected.contains(letter)) {
                verdict.problem("unexpected dead letter " + letter + ": " + m.getBody().get("reason"));
            }
            found.add(letter);
        }
        expected.stream().filter(e -> !found.contains(e)).forEach(e -> verdict.problem("poison entry not dead-lettered: " + e));
    }

    private Map<String, Set<Long>> clickhouseSeqs() throws IOException, InterruptedException {
        String sql = "SELECT entity_id, event_id FROM " + DATABASE + ".events FINAL FORMAT TabSeparated";
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(clickhouseUrl.resolve("/"))
                .POST(HttpRequest.BodyPublishers.ofString(sql)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("ClickHouse answered " + r.statusCode() + ": " + r.body());
        }
        Map<String, Set<Long>> seqs = new HashMap<>();
        for (String line : r.body().split("\n")) {
            if (!line.isEmpty()) {
                String[] cols = line.split("\t");
                seqs.computeIfAbsent(cols[0], k -> new HashSet<>()).add(Long.parseLong(cols[1].substring(cols[1].lastIndexOf('-') + 1)));
            }
        }
        return seqs;
    }

    /** Every online feature and profile field of the accounts, through the serving process. */
    private Map<String, JsonNode> served(List<String> accounts) throws IOException, InterruptedException {
        Map<String, JsonNode> byId = new LinkedHashMap<>();
        for (int from = 0; from < accounts.size(); from += 500) {
            String body = json.writeValueAsString(Map.of("entity", ChaosLoad.ENTITY, "features", ONLINE_FEATURES,
                    "ids", accounts.subList(from, Math.min(accounts.size(), from + 500))));
            for (int attempt = 0; ; attempt++) {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + servePort + "/v1/features"))
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                        HttpResponse.BodyHandlers.ofString());
                JsonNode results = json.readTree(r.body()).path("results");
                boolean allOk = r.statusCode() == 200 && !results.toString().contains("\"timeout\"")
                        && !results.toString().contains("\"unavailable\"");
                if (allOk || attempt == 10) {
                    if (!allOk) {
                        throw new IllegalStateException("the serving process did not answer every feature: " + r.body());
                    }
                    results.forEach(result -> byId.put(result.path("id").asText(), result.path("features")));
                    break;
                }
                sleep(Duration.ofSeconds(1));
            }
        }
        return byId;
    }

    private void awaitReady(int port, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!ready(port)) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the process on port " + port + " was not ready within "
                        + timeout.toSeconds() + " s; see the logs in " + options.dataDir().resolve("logs"));
            }
            Thread.sleep(200);
        }
    }

    private boolean ready(int port) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/readyz"))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clear " + dir + ": " + e.getMessage(), e);
        }
    }
}
