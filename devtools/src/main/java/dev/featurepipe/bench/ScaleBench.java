package dev.featurepipe.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.app.Stores;
import dev.featurepipe.chaos.RoleProcess;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.offline.OfflineSink;
import dev.featurepipe.online.OnlineConsumer;
import dev.featurepipe.redis.Shards;
import dev.featurepipe.redis.StreamGroups;
import dev.featurepipe.redis.StreamKeys;
import dev.featurepipe.services.ServiceStatus;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What more stream shards and more processes per role do on this machine: for each shard count and number of
 * processes per role, that many {@code ./fp run --roles ingest}, {@code --roles online} and {@code --roles offline}
 * processes; the retail events posted to the ingest processes as batched requests while both groups consume them;
 * and for each phase the events per second and, from {@code /proc}, the CPU time per event of every process: the
 * pipeline's JVMs, the Redis servers, ClickHouse, the MongoDB-protocol server and this load client. The CPU figures
 * are the stable ones on a shared 2-core machine, where every process competes for the same cores.
 * Run: {@code ./fp bench scale [--events N] [--redis-cluster 3]}.
 */
public final class ScaleBench {
    /** Shard counts and processes per role measured. */
    private static final List<Integer> SHARDS = List.of(1, 2, 4);
    private static final List<Integer> WORKERS = List.of(1, 2);
    private static final int BATCH = 1000;
    private static final int CONNECTIONS_PER_INGEST = 2;
    private static final Duration READY_TIMEOUT = Duration.ofMinutes(2);

    /**
     * One shape's figures: events per second of ingest (first to last answer), and of each group (from the first
     * request until it caught up); CPU microseconds per event by process kind.
     */
    public record Row(int shards, int workers, int events, double ingestEps, double onlineEps, double offlineEps,
                      Map<String, Double> cpuPerEvent) {
        public double totalCpuPerEvent() {
            return cpuPerEvent.values().stream().mapToDouble(Double::doubleValue).sum();
        }
    }

    private final Config config;
    private final Path file;
    private final int eventCount;
    private final List<ServiceStatus> servers;
    private final Path jar;
    private final Path logs;
    private final PrintStream out;
    private final ObjectMapper json = new ObjectMapper();
    private final String run = "scale-" + UUID.randomUUID().toString().substring(0, 8);

    /**
     * @param servers the local servers, whose pids give their CPU time
     * @param jar     the jar the role processes start from
     */
    public ScaleBench(Config config, Path file, int eventCount, List<ServiceStatus> servers, Path jar, Path logs,
                      PrintStream out) {
        this.config = config;
        this.file = file;
        this.eventCount = eventCount;
        this.servers = servers;
        this.jar = jar;
        this.logs = logs;
        this.out = out;
    }

    public List<Row> run() throws InterruptedException {
        List<Row> rows = new ArrayList<>();
        List<byte[]> requests;
        int events;
        try (Stores stores = new Stores(config)) {
            List<Event> all = BenchData.retailEvents(stores.registry(), file, eventCount);
            events = all.size();
            String key = stores.registry().entity("customer").orElseThrow().keyField();
            requests = new ArrayList<>();
            for (int from = 0; from < all.size(); from += BATCH) {
                StringBuilder body = new StringBuilder();
                for (Event e : all.subList(from, Math.min(all.size(), from + BATCH))) {
                    body.append(BenchData.eventJson(json, e, key)).append('\n');
                }
                requests.add(HttpConnection.post("/v1/events", "application/x-ndjson", body.toString().getBytes(StandardCharsets.UTF_8)));
            }
        }
        for (int shards : SHARDS) {
            for (int workers : WORKERS) {
                Row row = shape(shards, workers, requests, events);
                out.printf(Locale.ROOT, "bench-scale: shards=%d workers=%d events=%d ingest_eps=%.0f online_eps=%.0f"
                                + " offline_eps=%.0f cpu_us_per_event=%.1f %s%n", shards, workers, events, row.ingestEps(),
                        row.onlineEps(), row.offlineEps(), row.totalCpuPerEvent(), cpuText(row.cpuPerEvent()));
                rows.add(row);
            }
        }
        return rows;
    }

    private static String cpuText(Map<String, Double> cpu) {
        StringBuilder b = new StringBuilder();
        cpu.forEach((kind, us) -> b.append(b.length() == 0 ? "" : " ").append(kind).append('=')
                .append(String.format(Locale.ROOT, "%.1f", us)));
        return b.toString();
    }

    private Row shape(int shards, int workers, List<byte[]> requests, int events) throws InterruptedException {
        String name = run + "-s" + shards + "w" + workers;
        String stream = name + ":events";
        String database = name.replace('-', '_');
        Config shaped = config.with(Map.of(Config.STREAM, stream, Config.STREAM_SHARDS, Integer.toString(shards),
                Config.CLICKHOUSE_DATABASE, database, Config.MONGO_DATABASE, database));
        Map<String, String> env = new LinkedHashMap<>();
        env.put(Config.REDIS_URL.env(), shaped.get(Config.REDIS_URL).toString());
        env.put(Config.CLICKHOUSE_URL.env(), shaped.get(Config.CLICKHOUSE_URL).toString());
        env.put(Config.CLICKHOUSE_USER.env(), shaped.get(Config.CLICKHOUSE_USER));
        env.put(Config.CLICKHOUSE_PASSWORD.env(), shaped.get(Config.CLICKHOUSE_PASSWORD));
        env.put(Config.MONGO_URI.env(), shaped.get(Config.MONGO_URI));
        env.put(Config.REGISTRY.env(), shaped.path(Config.REGISTRY).toString());
        env.put(Config.STREAM.env(), stream);
        env.put(Config.STREAM_SHARDS.env(), Integer.toString(shards));
        env.put(Config.CLICKHOUSE_DATABASE.env(), database);
        env.put(Config.MONGO_DATABASE.env(), database);
        env.put(Config.AUTH.env(), "off");
        Map<String, List<RoleProcess>> processes = new LinkedHashMap<>();
        List<Integer> ports = new ArrayList<>();
        try (Stores stores = new Stores(shaped)) {
            RedisClusterCommands<String, String> redis = stores.redis().shared().sync();
            Shards layout = stores.shards();
            try {
                for (String role : List.of("ingest", "online", "offline")) {
                    List<RoleProcess> ofRole = new ArrayList<>();
                    for (int w = 0; w < workers; w++) {
                        Map<String, String> own = new LinkedHashMap<>(env);
                        if (role.equals("ingest")) {
                            ports.add(freePort());
                            own.put(Config.HTTP_PORT.env(), Integer.toString(ports.get(w)));
                        }
                        RoleProcess p = new RoleProcess(name + "-" + role + "-" + w, role, jar, shaped.home(), own, logs);
                        p.start();
                        ofRole.add(p);
                    }
                    processes.put(role, ofRole);
                }
                awaitReady(ports, redis, layout, workers);
                Map<String, Long> before = cpu(processes);
                long t0 = System.nanoTime();
                ingest(ports, requests);
                double ingestSeconds = (System.nanoTime() - t0) / 1e9;
                Map<String, Double> seconds = awaitGroups(redis, layout, t0);
                double onlineSeconds = seconds.get(OnlineConsumer.GROUP);
                double offlineSeconds = seconds.get(OfflineSink.GROUP);
                Map<String, Long> after = cpu(processes);
                Map<String, Double> perEvent = new LinkedHashMap<>();
                after.forEach((kind, us) -> perEvent.put(kind, (double) (us - before.get(kind)) / events));
                return new Row(shards, workers, events, events / ingestSeconds, events / onlineSeconds,
                        events / offlineSeconds, perEvent);
            } finally {
                for (List<RoleProcess> ofRole : processes.values()) {
                    for (RoleProcess p : ofRole) {
                        p.close();
                    }
                }
                BenchData.deleteKeys(redis, stream);
                stores.clickhouse().execute("DROP DATABASE IF EXISTS " + database);
                stores.mongo().database().drop();
            }
        }
    }

    /** Every ingest process answers /readyz, and every shard of both groups is held by one of their processes. */
    private void awaitReady(List<Integer> ports, RedisClusterCommands<String, String> redis, Shards shards, int workers)
            throws InterruptedException {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        byte[] ready = HttpConnection.get("/readyz");
        for (int port : ports) {
            while (!answers(port, ready)) {
                waitOrFail(deadline, "ingest on port " + port + " did not become ready; see " + logs);
            }
        }
        for (String group : List.of(OnlineConsumer.GROUP, OfflineSink.GROUP)) {
            for (String shard : shards.streams()) {
                while (redis.get(StreamKeys.lease(shard, group)) == null
                        || redis.zcard(StreamKeys.workers(shards.stream(), group)) < workers) {
                    waitOrFail(deadline, "group " + group + " did not take " + shard + "; see " + logs);
                }
            }
        }
    }

    private static void waitOrFail(long deadline, String why) throws InterruptedException {
        if (System.nanoTime() - deadline > 0) {
            throw new IllegalStateException(why);
        }
        Thread.sleep(100);
    }

    private static boolean answers(int port, byte[] request) {
        try (HttpConnection c = new HttpConnection(port)) {
            return c.send(request) == 200;
        } catch (IOException e) {
            return false;
        }
    }

    /** Posts every request, spread over the ingest processes, each answered 202 before the next on its connection. */
    private static void ingest(List<Integer> ports, List<byte[]> requests) throws InterruptedException {
        AtomicInteger next = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        List<Exception> failures = new ArrayList<>();
        for (int c = 0; c < ports.size() * CONNECTIONS_PER_INGEST; c++) {
            int port = ports.get(c % ports.size());
            Thread t = new Thread(() -> {
                try (HttpConnection connection = new HttpConnection(port)) {
                    for (int i = next.getAndIncrement(); i < requests.size(); i = next.getAndIncrement()) {
                        int status = connection.send(requests.get(i));
                        if (status != 202) {
                            throw new IOException("ingest on port " + port + " answered " + status);
                        }
                    }
                } catch (IOException e) {
                    synchronized (failures) {
                        failures.add(e);
                    }
                }
            }, "bench-scale-ingest-" + c);
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        if (!failures.isEmpty()) {
            throw new IllegalStateException("ingest failed: " + failures.get(0).getMessage(), failures.get(0));
        }
    }

    /** Seconds from {@code t0} until each group caught up on every shard, by group. */
    private static Map<String, Double> awaitGroups(RedisClusterCommands<String, String> redis, Shards shards, long t0)
            throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(30).toNanos();
        Map<String, Double> seconds = new LinkedHashMap<>();
        while (seconds.size() < 2) {
            List<StreamGroups.GroupStatus> status = StreamGroups.status(redis, shards);
            for (String group : List.of(OnlineConsumer.GROUP, OfflineSink.GROUP)) {
                if (!seconds.containsKey(group) && status.stream().filter(g -> g.name().equals(group))
                        .allMatch(StreamGroups.GroupStatus::caughtUp)) {
                    seconds.put(group, (System.nanoTime() - t0) / 1e9);
                }
            }
            if (seconds.size() < 2) {
                waitOrFail(deadline, "the groups did not catch up within 30 minutes");
            }
        }
        return seconds;
    }

    /** CPU microseconds so far, by kind: each role's processes, each kind of server, and this load client. */
    private Map<String, Long> cpu(Map<String, List<RoleProcess>> processes) {
        Map<String, Long> cpu = new LinkedHashMap<>();
        processes.forEach((role, ofRole) -> cpu.put(role, ofRole.stream().mapToLong(p -> ProcessCpu.micros(p.pid())).sum()));
        for (ServiceStatus s : servers) {
            if (s.pid() != null) {
                cpu.merge(s.name().startsWith("redis") ? "redis" : s.name(), ProcessCpu.micros(s.pid()), Long::sum);
            }
        }
        cpu.put("client", ProcessCpu.micros(ProcessHandle.current().pid()));
        return cpu;
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
