package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.clickhouse.BatchSnapshots;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.clickhouse.FeatureSql;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.EntityHash;
import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.expr.SqlWriter;
import dev.featurepipe.core.registry.BatchFeature;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.export.TrainingSetExport;
import dev.featurepipe.it.PropertyModel.Tx;
import dev.featurepipe.verify.SkewCheck;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * On a ClickHouse cluster of two shards (18.16, FP_CLICKHOUSE_CLUSTER): the entity hash is ClickHouse's, each event
 * written by the offline consumer is on the shard of its entity and replaces itself when written again, and what
 * verify, training sets and batch features read is what one server gives for the same events and what the window
 * semantics give (PropertyModel, computed from the event list).
 */
@ExtendWith({TestServices.class, TestClickHouseCluster.Sharded.class})
@Timeout(300)
class ClickHouseClusterIT {
    private static final String REGISTRY = "src/test/resources/registry/property.yaml";
    private final ObjectMapper json = new ObjectMapper();

    @Test
    void entityHashIsClickHouseSipHash64OfTheUtf8Bytes() {
        Random random = new Random(6);
        List<String> ids = new ArrayList<>(List.of("", "a", "12680", "{user}", "{", "}", "}{", "a{b}c", "é", "日本",
                "\uD83C\uDF89", "'", "\\", "tab\there", "line\nbreak", "x".repeat(1_000), "{}".repeat(2_500)));
        String[] alphabets = {"abcXYZ0189-_.:{}", "éüßøñ€", "日本語中文한국어", "\uD83C\uDF89\uD83D\uDE00\uD835\uDD38", "'\\\"\u0001 "};
        while (ids.size() < 400) {
            int length = ids.size() < 100 ? ids.size() - 17 : random.nextInt(80); // every length mod 8, then random ones
            StringBuilder id = new StringBuilder();
            while (id.codePointCount(0, id.length()) < Math.max(length, 0)) {
                String alphabet = alphabets[random.nextInt(alphabets.length)];
                int at = alphabet.offsetByCodePoints(0, random.nextInt(alphabet.codePointCount(0, alphabet.length())));
                id.appendCodePoint(alphabet.codePointAt(at));
            }
            ids.add(id.toString());
        }
        ClickHouseClient server = new ClickHouseClient(TestClickHouseCluster.SHARDED.nodes().get(0), null);
        String array = "[" + ids.stream().map(SqlWriter::quote).collect(Collectors.joining(", ")) + "]";
        List<String> hashes = column(server, "toString(sipHash64(x))", array);
        List<String> shards = column(server, "toString(sipHash64(x) % 3)", array);

        assertThat(hashes).hasSize(ids.size());
        for (int i = 0; i < ids.size(); i++) {
            assertThat(Long.toUnsignedString(EntityHash.of(ids.get(i)))).as("hash of %s", ids.get(i)).isEqualTo(hashes.get(i));
            assertThat(EntityHash.shard(ids.get(i), 3)).as("shard of %s", ids.get(i)).isEqualTo(Integer.parseInt(shards.get(i)));
        }
        assertThat(ids.stream().map(id -> EntityHash.shard(id, 3)).distinct().count()).isEqualTo(3);
    }

    /** ClickHouse's value of {@code expression} of x for each element of the array literal, in order. */
    private static List<String> column(ClickHouseClient server, String expression, String array) {
        String answer = server.execute("SELECT arrayStringConcat(arrayMap(x -> " + expression + ", " + array + "), ',')"
                + " FORMAT TabSeparated").strip();
        return Arrays.asList(answer.split(",", -1));
    }

    @Test
    void eachEventIsOnItsShardOnceAndEveryReadAnswersAsOneServer(@TempDir Path dir) throws Exception {
        // ingest's dedupe off, so that the events sent again reach the offline consumer again
        Config config = TestClickHouseCluster.SHARDED.config(REGISTRY, Map.of(Config.INGEST_DEDUPE_TTL, "0s"));
        String database = config.get(Config.CLICKHOUSE_DATABASE);
        Registry registry = RegistryLoader.load(Path.of(REGISTRY));
        List<ClickHouseClient> nodes = TestClickHouseCluster.SHARDED.nodes().stream()
                .map(url -> new ClickHouseClient(url, database)).toList();
        ClickHouseClient single = new ClickHouseClient(TestServices.CLICKHOUSE, null);
        String run = UUID.randomUUID().toString().substring(0, 8);
        List<String> users = new ArrayList<>();
        for (int i = 0; i < 80; i++) {
            users.add(run + "-" + i);
        }
        long now = System.currentTimeMillis() - PropertyModel.MINUTE;
        List<Tx> sent = PropertyModel.generate(new Random(15), users, now, now);
        Map<String, Tx> distinct = new LinkedHashMap<>();
        sent.forEach(tx -> distinct.put(tx.id(), tx));
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST, Role.ONLINE, Role.OFFLINE), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            send(api, sent);
            TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));
            List<Long> perShard = rowsOnTheirShards(nodes, 1);
            assertThat(perShard).allMatch(n -> n > 0);
            assertThat(perShard.stream().mapToLong(Long::longValue).sum()).isEqualTo(distinct.size());
            assertThat(pipeline.offlineTable().countEvents()).isEqualTo(distinct.size());

            send(api, sent);
            TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));
            assertThat(pipeline.offlineTable().countEvents()).isEqualTo(distinct.size());
            assertThat(rowsOnTheirShards(nodes, 1)).isEqualTo(perShard);
            for (ClickHouseClient node : nodes) { // merged, each copy has replaced its first on its own shard
                node.execute("OPTIMIZE TABLE " + ClickHouseEventTable.LOCAL_TABLE + " FINAL");
            }
            assertThat(count(nodes.get(0), "SELECT count() FROM " + ClickHouseEventTable.TABLE)).isEqualTo(distinct.size());

            String reference = database + "_single";
            ClickHouseEventTable oneServer = new ClickHouseEventTable(single, reference, registry);
            oneServer.ensureSchema();
            try {
                oneServer.insert(LoggedEvent.asHistory(sent.stream().map(Tx::event).toList()));
                long t = System.currentTimeMillis();
                List<String> mismatches = new ArrayList<>();
                featuresAgree(registry, pipeline.offlineTable(), oneServer, users, distinct, t, mismatches);
                trainingSetsAgree(registry, dir, nodes.get(0), single.withDatabase(reference), users, distinct, t, mismatches);
                batchFeaturesAgree(nodes.get(0), single, database, reference, distinct, t, mismatches);
                assertThat(mismatches).isEmpty();

                String global = "SELECT count(), uniqExact(entity_id), sum(qty), uniqExact(item) FROM "
                        + ClickHouseEventTable.TABLE + " FINAL FORMAT TabSeparated";
                assertThat(nodes.get(0).execute(global)).isEqualTo(single.withDatabase(reference).execute(global))
                        .startsWith(distinct.size() + "\t" + distinct.values().stream().map(Tx::user).distinct().count() + "\t"
                                + distinct.values().stream().filter(tx -> tx.qty() != null).mapToLong(Tx::qty).sum() + "\t");

                SkewCheck verify = new SkewCheck(registry, pipeline.stores().onlineStore(Clock.systemUTC()),
                        pipeline.stores().profileStore(), pipeline.offlineTable());
                List<String> sample = verify.sample("user", 1_000, 1);
                assertThat(sample).hasSameElementsAs(distinct.values().stream().map(Tx::user).distinct().toList());
                List<SkewCheck.FeatureReport> reports = verify.check("user", sample, List.of(), System.currentTimeMillis());
                assertThat(reports).isNotEmpty().allSatisfy(r -> assertThat(r.mismatched()).as(r.feature() + ": " + r.examples()).isZero());
            } finally {
                single.execute("DROP DATABASE IF EXISTS " + reference);
            }
        } finally {
            for (ClickHouseClient node : nodes) {
                node.withDatabase(null).execute("DROP DATABASE IF EXISTS " + database);
            }
        }
    }

    @Test
    @ExtendWith(TestClickHouseCluster.Replicated.class)
    void replicatedShardsHoldEachEventOnEveryReplicaOfItsShard() throws Exception {
        TestClickHouseCluster cluster = TestClickHouseCluster.REPLICATED;
        Config config = cluster.config(REGISTRY, Map.of(Config.INGEST_DEDUPE_TTL, "0s"));
        assertThat(config.get(Config.CLICKHOUSE_REPLICATED)).isTrue();
        String database = config.get(Config.CLICKHOUSE_DATABASE);
        Registry registry = RegistryLoader.load(Path.of(REGISTRY));
        List<ClickHouseClient> nodes = cluster.nodes().stream().map(url -> new ClickHouseClient(url, database)).toList();
        int replicas = cluster.cluster().replicas();
        ClickHouseEventTable events = new ClickHouseEventTable(nodes.get(0), database, registry,
                config.get(Config.CLICKHOUSE_CLUSTER), true);
        events.ensureSchema();
        // a field new to the registry: its column is added on one replica of each shard and reaches the others
        for (int k = 0; k < nodes.size(); k++) {
            if (k % replicas == 0) {
                nodes.get(k).execute("ALTER TABLE " + ClickHouseEventTable.LOCAL_TABLE + " DROP COLUMN price");
            }
            nodes.get(k).execute("ALTER TABLE " + ClickHouseEventTable.TABLE + " DROP COLUMN price");
        }
        events.ensureSchema();
        String of = " WHERE database = '" + database + "' AND ";
        for (ClickHouseClient node : nodes) {
            assertThat(node.execute("SELECT engine FROM system.tables" + of + "name = '" + ClickHouseEventTable.LOCAL_TABLE
                    + "' FORMAT TabSeparated").strip()).isEqualTo("ReplicatedReplacingMergeTree");
            assertThat(count(node, "SELECT count() FROM system.columns" + of + "name = 'price'")).as("%s", node.base())
                    .isEqualTo(2); // in events_local and events
        }
        List<String> users = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            users.add(UUID.randomUUID().toString().substring(0, 8) + "-" + i);
        }
        List<Tx> sent = PropertyModel.generate(new Random(16), users, System.currentTimeMillis() - PropertyModel.MINUTE,
                System.currentTimeMillis());
        long distinct = sent.stream().map(Tx::id).distinct().count();
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.INGEST, Role.ONLINE, Role.OFFLINE), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            send(api, sent);
            send(api, sent);
            TestServices.awaitConsumers(pipeline, config, Duration.ofSeconds(60));
            nodes.forEach(node -> node.execute("SYSTEM SYNC REPLICA " + ClickHouseEventTable.LOCAL_TABLE));
            List<Long> rows = rowsOnTheirShards(nodes, replicas);
            for (int k = 0; k < nodes.size(); k += replicas) {
                assertThat(rows.subList(k, k + replicas)).as("the replicas of shard %d", k / replicas + 1)
                        .containsOnly(rows.get(k)).allMatch(n -> n > 0);
            }
            assertThat(rows.stream().mapToLong(Long::longValue).sum()).isEqualTo(replicas * distinct);
            assertThat(pipeline.offlineTable().countEvents()).isEqualTo(distinct);
        } finally {
            for (ClickHouseClient node : nodes) {
                node.withDatabase(null).execute("DROP DATABASE IF EXISTS " + database);
            }
        }
    }

    private void send(Api api, List<Tx> events) {
        for (int from = 0; from < events.size(); from += 500) {
            List<Map<String, Object>> batch = new ArrayList<>();
            for (Tx tx : events.subList(from, Math.min(events.size(), from + 500))) {
                Map<String, Object> e = new HashMap<>(tx.event().fields());
                e.putAll(Map.of("event_id", tx.id(), "event_type", "tx", "user_id", tx.user(), "ts", tx.ts()));
                batch.add(e);
            }
            Api.Reply reply = api.postJson("/v1/events", batch);
            assertThat(reply.status()).as("%s", reply.body()).isEqualTo(202);
        }
    }

    /**
     * The rows of each server (shard by shard, {@code replicas} servers each), after checking that each is on the
     * shard of its entity by both hashes.
     */
    private static List<Long> rowsOnTheirShards(List<ClickHouseClient> nodes, int replicas) {
        int shards = nodes.size() / replicas;
        List<Long> rows = new ArrayList<>();
        for (int k = 0; k < nodes.size(); k++) {
            String answer = nodes.get(k).execute("SELECT entity_id, sipHash64(entity_id) % " + shards + " FROM "
                    + ClickHouseEventTable.LOCAL_TABLE + " FINAL FORMAT TabSeparated");
            long n = 0;
            for (String line : answer.lines().filter(l -> !l.isBlank()).toList()) {
                String[] row = line.split("\t");
                assertThat(EntityHash.shard(row[0], shards)).as("shard of %s", row[0]).isEqualTo(k / replicas);
                assertThat(row[1]).isEqualTo(Integer.toString(k / replicas));
                n++;
            }
            rows.add(n);
        }
        return rows;
    }

    private static long count(ClickHouseClient server, String sql) {
        return Long.parseLong(server.execute(sql + " FORMAT TabSeparated").strip());
    }

    /** What verify and serving's offline side compute for each window feature: the cluster, one server, the reference. */
    private void featuresAgree(Registry registry, ClickHouseEventTable cluster, ClickHouseEventTable oneServer,
                               List<String> users, Map<String, Tx> events, long t, List<String> mismatches) throws Exception {
        Map<String, Long> asOf = new LinkedHashMap<>();
        users.forEach(u -> asOf.put(u, t));
        for (ServedFeature f : registry.served("user").values()) {
            ServedFeature.WindowValue w = (ServedFeature.WindowValue) f;
            String sql = FeatureSql.valuesAt(ClickHouseEventTable.TABLE, w.feature(), w.window(), asOf);
            Map<String, Object> onCluster = values(w, cluster.query(sql));
            Map<String, Object> onOne = values(w, oneServer.query(sql));
            for (String user : users) {
                Object expected = PropertyModel.reference(w, events.values().stream().filter(tx -> tx.user().equals(user)).toList(), t);
                Object actual = onCluster.getOrDefault(user, PropertyModel.absent(w));
                if (!PropertyModel.same(expected, actual) || !PropertyModel.same(onOne.getOrDefault(user, PropertyModel.absent(w)), actual)) {
                    mismatches.add(w.name() + " of " + user + ": reference " + expected + ", cluster " + actual + ", one server "
                            + onOne.get(user));
                }
            }
        }
    }

    private Map<String, Object> values(ServedFeature.WindowValue w, String rows) throws Exception {
        Map<String, Object> values = new HashMap<>();
        for (String line : rows.lines().filter(l -> !l.isBlank()).toList()) {
            JsonNode row = json.readTree(line);
            values.put(row.get("key").asText(), SkewCheck.typed(w.feature(), row.get("value")));
        }
        return values;
    }

    /** A point-in-time export at t and an hour later, on the cluster and on one server: the same file. */
    private void trainingSetsAgree(Registry registry, Path dir, ClickHouseClient cluster, ClickHouseClient oneServer,
                                   List<String> users, Map<String, Tx> events, long t, List<String> mismatches) throws Exception {
        StringBuilder labels = new StringBuilder("user_id,ts\n");
        users.forEach(u -> labels.append(u).append(',').append(t).append('\n').append(u).append(',').append(t + PropertyModel.HOUR).append('\n'));
        Path labelFile = Files.writeString(dir.resolve("labels.csv"), labels);
        Path onCluster = dir.resolve("cluster.csv");
        Path onOne = dir.resolve("single.csv");
        new TrainingSetExport(registry, cluster, json).export(labelFile, "user", List.of(), onCluster, n -> { });
        new TrainingSetExport(registry, oneServer, json).export(labelFile, "user", List.of(), onOne, n -> { });
        List<String> lines = Files.readAllLines(onCluster);
        assertThat(lines).hasSize(2 * users.size() + 1).isEqualTo(Files.readAllLines(onOne));
        List<String> header = List.of(lines.get(0).split(","));
        int spend = header.indexOf("spend_lifetime");
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split(",", -1);
            double expected = events.values().stream().filter(tx -> tx.user().equals(cells[0])).mapToDouble(Tx::amount).sum();
            if (Math.abs(Double.parseDouble(cells[spend]) - expected) > 1e-9 * Math.max(1, expected)) {
                mismatches.add("training set spend_lifetime of " + cells[0] + ": " + cells[spend] + ", reference " + expected);
            }
        }
    }

    /** A batch feature's run (BatchSnapshots, as materialize computes it) on the cluster and on one server. */
    private static void batchFeaturesAgree(ClickHouseClient cluster, ClickHouseClient single, String database,
                                           String reference, Map<String, Tx> events, long t, List<String> mismatches) {
        BatchFeature units = new BatchFeature("units_all", "user", FieldType.LONG,
                "SELECT entity_id, sum(qty) AS value FROM {events} GROUP BY entity_id", Duration.ofDays(2), Duration.ofHours(1));
        Map<String, String> onCluster = batchRun(new BatchSnapshots(cluster, database), units, t);
        Map<String, String> onOne = batchRun(new BatchSnapshots(single, reference), units, t);
        Map<String, String> expected = events.values().stream().collect(Collectors.groupingBy(Tx::user, TreeMap::new,
                Collectors.collectingAndThen(Collectors.summingLong(tx -> tx.qty() == null ? 0 : tx.qty()), String::valueOf)));
        if (!onCluster.equals(expected) || !onOne.equals(expected)) {
            mismatches.add("batch feature units_all: reference " + expected + ", cluster " + onCluster + ", one server " + onOne);
        }
    }

    private static Map<String, String> batchRun(BatchSnapshots snapshots, BatchFeature f, long t) {
        snapshots.ensureSchema();
        BatchSnapshots.Run run = snapshots.compute(f, t);
        Map<String, String> values = new TreeMap<>();
        try {
            snapshots.read(run, true, w -> values.put(w.entityId(), w.text()));
        } finally {
            snapshots.drop(run);
        }
        return values;
    }
}
