package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import dev.featurepipe.redis.Shards;
import dev.featurepipe.services.LocalServices;
import dev.featurepipe.services.ServiceStatus;
import io.lettuce.core.Range;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * FP_INGEST_WAIT_REPLICAS on a 3-master, 1-replica Redis Cluster of this class's own (its masters are killed):
 * writers post events to the shard of one master, the writer that gets the {@value #KILL_AFTER}th 202 kills that
 * master with SIGKILL at once while the others go on, and after the failover the test reads the shard's stream on
 * the promoted replica and looks for every event of every 202. With the setting 1 none may be missing; with 0 the
 * test counts how many were and prints it (a loss needs the kill to win a race with replication, so it is measured,
 * not asserted). A replica stopped (SIGSTOP) while its master answers and is then killed shows the loss the setting
 * prevents. And a replica that does not answer makes ingest answer 503, listing what is on the master only; once
 * it is back, the same request is accepted.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class IngestReplicaWaitIT {
    @RegisterExtension
    static final TestRedisCluster CLUSTER = new TestRedisCluster(3, 1, 20);

    private static final int SHARDS = 3;
    /** Failovers per test (system property {@code fp.it.failovers}); each takes about 10 s. */
    private static final int ROUNDS = Integer.getInteger("fp.it.failovers", 3);
    private static final int WRITERS = 4;
    private static final int KILL_AFTER = 20;
    private static final int BATCH = Integer.getInteger("fp.it.failoverBatch", 10);
    private static final Duration FAILOVER_BOUND = Duration.ofSeconds(30);

    private static final ObjectMapper JSON = new ObjectMapper();
    private static RedisClusterClient client;

    @BeforeAll
    static void connect() {
        client = RedisClusterClient.create(Arrays.stream(CLUSTER.url().substring("redis-cluster://".length()).split(","))
                .map(seed -> RedisURI.create("redis://" + seed)).toList());
    }

    @AfterAll
    static void disconnect() {
        client.shutdown();
    }

    @Test
    void withOneReplicaToWaitForAFailoverLosesNoAcceptedEvent() throws Exception {
        Losses losses = failovers("1");
        assertThat(losses.accepted()).as("events accepted before and while the masters were killed")
                .isGreaterThanOrEqualTo(ROUNDS * KILL_AFTER * BATCH);
        assertThat(losses.lost()).as("accepted events missing after the failovers").isZero();
    }

    @Test
    void withoutWaitingTheLossesOfAFailoverAreCounted() throws Exception {
        Losses losses = failovers("0");
        assertThat(losses.accepted()).isGreaterThanOrEqualTo(ROUNDS * KILL_AFTER * BATCH);
        assertThat(losses.lost()).isBetween(0, losses.accepted());
    }

    @Test
    void aReplicaThatDoesNotAnswerMakesIngest503UntilItIsBack() throws Exception {
        LocalServices services = CLUSTER.services();
        services.up();
        Config config = config("1", "500ms");
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            Shards shards = pipeline.stores().shards();
            RedisClusterNode stoppedMaster = master(shards.prefix(1));
            assertThat(master(shards.prefix(0)).getNodeId()).as("shards 0 and 1 on different masters")
                    .isNotEqualTo(stoppedMaster.getNodeId());
            ArrayNode healthy = batch("h-", entities(shards, 0), 3);
            ArrayNode lagging = batch("l-", entities(shards, 1), 4);
            ArrayNode both = JSON.createArrayNode().addAll(batch("m0-", entities(shards, 0), 2))
                    .addAll(batch("m1-", entities(shards, 1), 2));
            assertThat(api.post("/v1/events", "application/json", healthy.toString()).status()).isEqualTo(202);

            long replica = pid(services, replicaOf(stoppedMaster));
            signal("STOP", replica);
            Api.Reply one;
            Api.Reply partly;
            try {
                one = api.post("/v1/events", "application/json", lagging.toString());
                partly = api.post("/v1/events", "application/json", both.toString());
            } finally {
                signal("CONT", replica);
            }
            assertThat(one.status()).isEqualTo(503);
            assertThat(one.headers().firstValue("Retry-After")).hasValue("1");
            assertThat(one.body().path("error").asText()).contains("4 events are appended on the Redis master of shard 1",
                    "but not yet on 1 of its replicas (0 acknowledged within 500 ms", "sending them again is safe");
            assertThat(one.body().path("details")).hasSize(4).allSatisfy(d -> {
                assertThat(d.path("replicated").asBoolean(true)).isFalse();
                assertThat(d.path("duplicate").asBoolean()).isFalse();
            });
            assertThat(partly.status()).isEqualTo(503);
            assertThat(partly.body().path("error").asText()).contains("2 of 4 events were appended; shard 1 failed: 2 events"
                    + " are appended on the Redis master of shard 1 but not yet on 1 of its replicas");
            JsonNode details = partly.body().path("details");
            assertThat(details).extracting(d -> d.path("event_id").asText() + "@" + d.path("index").asInt() + "="
                            + d.path("replicated").asText("yes"))
                    .containsExactly("m0-0@0=yes", "m0-1@1=yes", "m1-0@2=false", "m1-1@3=false");
            assertThat(api.getText("/metrics")).contains("featurepipe_ingest_unreplicated_total 2.0",
                    "featurepipe_ingest_partly_appended_total 1.0");

            // back: the same requests are accepted, their events found as duplicates, and the replica holds them
            awaitReplicaLinked(stoppedMaster);
            Api.Reply again = api.post("/v1/events", "application/json", lagging.toString());
            assertThat(again.status()).isEqualTo(202);
            assertThat(again.body().path("duplicates").asInt()).isEqualTo(4);
            assertThat(api.post("/v1/events", "application/json", both.toString()).body().path("duplicates").asInt())
                    .isEqualTo(4);
            assertThat(eventIds(replicaOf(stoppedMaster).getUri().getPort(), shards.prefix(1), true))
                    .containsAll(ids(lagging)).containsAll(ids(both).subList(2, 4));
        }
    }

    /**
     * A failover the operator asks for ({@code CLUSTER FAILOVER} on the replica): the old master stays up as a
     * replica and answers MOVED to the append that still goes to it; the append reads the topology again and runs
     * on the new master, so the first request after it is a 202 (a MOVED reply alone would be an error).
     */
    @Test
    void anAppendThatMeetsMovedAfterAFailoverRunsOnceMoreOnTheNewMaster() throws Exception {
        LocalServices services = CLUSTER.services();
        services.up();
        try (Pipeline pipeline = Pipeline.start(config("1", "1s"), EnumSet.of(Role.INGEST), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            Shards shards = pipeline.stores().shards();
            RedisClusterNode master = master(shards.prefix(2));
            RedisClusterNode replica = replicaOf(master);
            awaitReplicaLinked(master);
            ArrayNode before = batch("mv-before-", entities(shards, 2), 5);
            assertThat(api.post("/v1/events", "application/json", before.toString()).status()).isEqualTo(202);

            try (Node node = new Node(replica.getUri().getPort())) {
                assertThat(node.connection.sync().clusterFailover(false)).isEqualTo("OK");
            }
            awaitPromoted(replica);
            try (Node old = new Node(master.getUri().getPort())) {
                await().atMost(FAILOVER_BOUND).pollInterval(Duration.ofMillis(50)).until(() ->
                        old.connection.sync().info("replication").contains("master_link_status:up"));
            }
            ArrayNode after = batch("mv-after-", entities(shards, 2), 5);
            Api.Reply reply = api.post("/v1/events", "application/json", after.toString());
            assertThat(reply.status()).as(reply.body().toString()).isEqualTo(202);
            assertThat(eventIds(replica.getUri().getPort(), shards.prefix(2), false)).containsAll(ids(before))
                    .containsAll(ids(after));
        }
    }

    /**
     * The race a failover loses without waiting, made likely: the replica is stopped (SIGSTOP) while requests of
     * its master's shard are answered, then the master is killed and the replica resumed and promoted. Without
     * waiting the answers are 202 and the losses are counted and printed; with waiting every answer is a 503, so
     * nothing accepted can be lost.
     */
    @Test
    void aMasterKilledWhileItsReplicaLagsLosesOnlyWhatWasAcceptedWithoutWaiting() throws Exception {
        LocalServices services = CLUSTER.services();
        for (String waitReplicas : List.of("0", "1")) {
            services.up();
            try (Pipeline pipeline = Pipeline.start(config(waitReplicas, "200ms"), EnumSet.of(Role.INGEST), Clock.systemUTC())) {
                Api api = new Api(pipeline.httpPort());
                Shards shards = pipeline.stores().shards();
                RedisClusterNode master = master(shards.prefix(0));
                RedisClusterNode replica = replicaOf(master);
                awaitReplicaLinked(master);
                ProcessHandle masterProcess = ProcessHandle.of(pid(services, master)).orElseThrow();
                long replicaPid = pid(services, replica);
                Set<String> accepted = new HashSet<>();
                int refused = 0;
                signal("STOP", replicaPid);
                try {
                    for (int r = 0; r < 10; r++) {
                        ArrayNode batch = batch("lag" + waitReplicas + "-" + r + "-", entities(shards, 0), 1_000);
                        Api.Reply reply = api.post("/v1/events", "application/json", batch.toString());
                        if (reply.status() == 202) {
                            accepted.addAll(ids(batch));
                        } else {
                            assertThat(reply.status()).isEqualTo(503);
                            refused++;
                        }
                    }
                    masterProcess.destroyForcibly();
                    masterProcess.onExit().get(10, TimeUnit.SECONDS);
                } finally {
                    signal("CONT", replicaPid);
                }
                awaitPromoted(replica);
                Set<String> missing = new HashSet<>(accepted);
                missing.removeAll(eventIds(replica.getUri().getPort(), shards.prefix(0), false));
                System.out.printf(Locale.ROOT, "IngestReplicaWaitIT: replica stopped, FP_INGEST_WAIT_REPLICAS=%s: %d of 10"
                        + " requests accepted (%d events), %d refused; after the failover %d accepted events lost%n",
                        waitReplicas, 10 - refused, accepted.size(), refused, missing.size());
                if (waitReplicas.equals("1")) {
                    assertThat(refused).as("requests answered while no replica acknowledged").isEqualTo(10);
                    assertThat(missing).as("accepted events lost").isEmpty();
                } else {
                    assertThat(refused).as("without waiting, the replica does not matter").isZero();
                }
            } finally {
                services.up();
            }
        }
    }

    /** What {@link #failovers} found: events of 202s, and how many of them the stream lacks after the failovers. */
    private record Losses(int accepted, int lost) {
    }

    private Losses failovers(String waitReplicas) throws Exception {
        LocalServices services = CLUSTER.services();
        Config config = config(waitReplicas, "1s");
        int accepted = 0;
        int lost = 0;
        List<String> rounds = new ArrayList<>();
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            Shards shards = pipeline.stores().shards();
            for (int round = 0; round < ROUNDS; round++) {
                services.up(); // healthy, as the other tests may have left it
                int shard = round % SHARDS;
                RedisClusterNode master = master(shards.prefix(shard));
                RedisClusterNode replica = replicaOf(master);
                awaitReplicaLinked(master);
                // looked up before the writes, so that the kill follows the 202 within microseconds
                ProcessHandle masterProcess = ProcessHandle.of(pid(services, master)).orElseThrow();
                Set<String> ok = burstUntilKilled(api, entities(shards, shard), "r" + round + "-", masterProcess);
                awaitPromoted(replica);
                Set<String> missing = new HashSet<>(ok);
                missing.removeAll(eventIds(replica.getUri().getPort(), shards.prefix(shard), false));
                accepted += ok.size();
                lost += missing.size();
                // the killed master back as a replica of the promoted one: ingest finds the new master (the old
                // node answers MOVED), and a client sending again after its 503s gets a 202 there
                services.up();
                ArrayNode after = batch("r" + round + "-after-", entities(shards, shard), BATCH);
                long t0 = System.nanoTime();
                await().atMost(FAILOVER_BOUND).until(() ->
                        api.post("/v1/events", "application/json", after.toString()).status() == 202);
                assertThat(eventIds(replica.getUri().getPort(), shards.prefix(shard), false)).containsAll(ids(after));
                rounds.add(String.format(Locale.ROOT, "%d of %d, the shard's next 202 %.1f s after the restart",
                        missing.size(), ok.size(), (System.nanoTime() - t0) / 1e9));
            }
        } finally {
            services.up();
        }
        System.out.printf(Locale.ROOT, "IngestReplicaWaitIT: FP_INGEST_WAIT_REPLICAS=%s: %d failovers, %d accepted"
                + " events, %d lost (per failover, lost of accepted: %s)%n", waitReplicas, ROUNDS, accepted, lost, rounds);
        return new Losses(accepted, lost);
    }

    /**
     * Writers post batches of the entities' events until the master is gone; the one whose 202 is the
     * {@value #KILL_AFTER}th kills it. The others' requests in flight at the kill end with 202 (accepted before it)
     * or 503.
     *
     * @return the ids of every event of a 202
     */
    private static Set<String> burstUntilKilled(Api api, List<String> entities, String prefix, ProcessHandle master)
            throws Exception {
        Set<String> accepted = ConcurrentHashMap.newKeySet();
        AtomicInteger answered = new AtomicInteger();
        AtomicBoolean killed = new AtomicBoolean();
        AtomicInteger sent = new AtomicInteger();
        List<Thread> writers = new ArrayList<>();
        for (int w = 0; w < WRITERS; w++) {
            Thread t = new Thread(() -> {
                while (!killed.get()) {
                    ArrayNode batch = batch(prefix + sent.incrementAndGet() + "-", entities, BATCH);
                    if (api.post("/v1/events", "application/json", batch.toString()).status() != 202) {
                        continue;
                    }
                    if (answered.incrementAndGet() == KILL_AFTER) {
                        master.destroyForcibly(); // SIGKILL
                        killed.set(true);
                    }
                    accepted.addAll(ids(batch));
                }
            }, "writer-" + w);
            writers.add(t);
            t.start();
        }
        for (Thread t : writers) {
            t.join();
        }
        assertThat(master.onExit().get(10, TimeUnit.SECONDS).isAlive()).as("the master is killed").isFalse();
        return accepted;
    }

    private static Config config(String waitReplicas, String waitTimeout) {
        return TestServices.config("src/test/resources/registry/it.yaml", Map.of(
                Config.REDIS_URL, CLUSTER.url() + "?timeout=3s",
                Config.STREAM_SHARDS, Integer.toString(SHARDS),
                Config.INGEST_WAIT_REPLICAS, waitReplicas,
                Config.INGEST_WAIT_TIMEOUT, waitTimeout));
    }

    /** Entity ids of a shard. */
    private static List<String> entities(Shards shards, int shard) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; ids.size() < 5; i++) {
            if (shards.of("u" + i) == shard) {
                ids.add("u" + i);
            }
        }
        return ids;
    }

    private static ArrayNode batch(String prefix, List<String> entities, int n) {
        ArrayNode batch = JSON.createArrayNode();
        for (int k = 0; k < n; k++) {
            batch.addObject().put("event_id", prefix + k).put("event_type", "order")
                    .put("user_id", entities.get(k % entities.size())).put("amount", 1.5).put("sku", "a");
        }
        return batch;
    }

    private static List<String> ids(ArrayNode batch) {
        List<String> ids = new ArrayList<>();
        batch.forEach(e -> ids.add(e.path("event_id").asText()));
        return ids;
    }

    private static RedisClusterNode master(String key) {
        client.refreshPartitions();
        return client.getPartitions().getMasterBySlot(SlotHash.getSlot(key));
    }

    private static RedisClusterNode replicaOf(RedisClusterNode master) {
        return client.getPartitions().stream().filter(n -> master.getNodeId().equals(n.getSlaveOf())).findFirst().orElseThrow();
    }

    private static long pid(LocalServices services, RedisClusterNode node) {
        String name = "redis-" + node.getUri().getPort();
        return services.status().stream().filter(s -> s.name().equals(name)).map(ServiceStatus::pid).findFirst()
                .orElseThrow();
    }

    private static void signal(String signal, long pid) throws IOException, InterruptedException {
        assertThat(new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start().waitFor())
                .as("kill -" + signal + " " + pid).isZero();
    }

    /** Waits until the master's replica says its link to the master is up and it has caught up. */
    private static void awaitReplicaLinked(RedisClusterNode master) {
        int port = replicaOf(master).getUri().getPort();
        try (Node node = new Node(port)) {
            await().atMost(FAILOVER_BOUND).pollInterval(Duration.ofMillis(50)).until(() ->
                    node.connection.sync().info("replication").contains("master_link_status:up"));
        }
    }

    /** Waits until the replica is a master of a cluster that is ok again. */
    private static void awaitPromoted(RedisClusterNode replica) {
        try (Node node = new Node(replica.getUri().getPort())) {
            await().atMost(FAILOVER_BOUND).pollInterval(Duration.ofMillis(50)).until(() ->
                    node.connection.sync().info("replication").contains("role:master")
                            && node.connection.sync().clusterInfo().contains("cluster_state:ok"));
        }
    }

    /** The ids of the events in a shard's stream, read from one node (a replica, with {@code readOnly}). */
    private static Set<String> eventIds(int port, String stream, boolean readOnly) throws IOException {
        Set<String> ids = new HashSet<>();
        try (Node node = new Node(port)) {
            if (readOnly) {
                node.connection.sync().readOnly();
            }
            for (StreamMessage<String, String> m : node.connection.sync().xrange(stream, Range.create("-", "+"))) {
                for (String line : m.getBody().get("e").split("\n")) {
                    ids.add(JSON.readTree(line).path("id").asText());
                }
            }
        }
        return ids;
    }

    /** A plain connection to one node of the cluster. */
    private static final class Node implements AutoCloseable {
        private final RedisClient client;
        private final StatefulRedisConnection<String, String> connection;

        Node(int port) {
            client = RedisClient.create(RedisURI.create("127.0.0.1", port));
            connection = client.connect();
        }

        @Override
        public void close() {
            connection.close();
            client.shutdown();
        }
    }
}
