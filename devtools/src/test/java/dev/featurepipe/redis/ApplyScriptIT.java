package dev.featurepipe.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.featurepipe.config.Config;
import dev.featurepipe.core.StoreFailedException;
import dev.featurepipe.core.StoreRejectedException;
import dev.featurepipe.it.TestServices;
import dev.featurepipe.online.ChunkWrites;
import dev.featurepipe.online.EntityKey;
import dev.featurepipe.online.FeatureKey;
import dev.featurepipe.online.StoreOp;
import dev.featurepipe.online.Tile;
import dev.featurepipe.online.WindowCache;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** Each operation of apply.lua, encoded by ApplyScript, leaves in Redis what StoreOp says it does. */
@ExtendWith(TestServices.class)
@Timeout(60)
class ApplyScriptIT {
    private static final long G = 300_000;
    private static final Tile NOW = new Tile(G, 10 * G);
    private static final Tile OLD = new Tile(G, 2 * G);
    private static final Tile KEPT = new Tile(G, 4 * G);
    private static final Tile OTHER_SIZE = new Tile(3600_000, 0);
    private static final int PRUNE_PERIODS = 3;

    private final FeatureKey state = new FeatureKey("user", "u1", "f");
    private final Shards shards = TestServices.oneShard("it-apply-" + UUID.randomUUID());
    private final String namespace = shards.prefix(0);
    private final String stateKey = StreamKeys.state(namespace, "user", "u1");
    private final FeatureKey other = new FeatureKey("user", "u1", "g");
    private RedisConnections redis;
    private RedisClusterCommands<String, String> sync;
    private ApplyScript script;
    private int events;

    @BeforeEach
    void connect() {
        redis = new RedisConnections(TestServices.config("src/test/resources/registry/it.yaml", Map.of()).get(Config.REDIS_URL));
        sync = redis.shared().sync();
        script = new ApplyScript(shards, PRUNE_PERIODS);
    }

    @AfterEach
    void close() {
        redis.close();
    }

    private final EntityKey u1 = new EntityKey("user", "u1");

    /** Runs the operations as the writes of one new event of u1. */
    private List<ApplyScript.Reply> write(StoreOp... ops) {
        return script.run(sync, writes(List.of("e" + ++events), List.of(ops)));
    }

    /** What the script says of an event delivered again that it said {@code applied} of the first time. */
    private static ApplyScript.Reply again(ApplyScript.Reply applied) {
        return new ApplyScript.Reply(ApplyScript.APPLIED_BEFORE, applied.sequence(), applied.startsSequence());
    }

    /** The writes of these events of u1. */
    private ChunkWrites writes(List<String> eventKeys, List<StoreOp> ops) {
        return new ChunkWrites(eventKeys.stream().map(e -> new ChunkWrites.Marked(e, u1, true)).toList(), 60_000,
                Map.of("user", 60_000L), ops);
    }

    /** The fields of a feature's state in a hash of u1, by their name in the feature's state. */
    private Map<String, String> fields(String key, String feature) {
        Map<String, String> fields = new HashMap<>();
        sync.hgetall(key).forEach((name, value) -> {
            if (name.startsWith(feature + "/")) {
                fields.put(name.substring(feature.length() + 1), value);
            }
        });
        return fields;
    }

    private Map<String, String> fields(String feature) {
        return fields(stateKey, feature);
    }

    @Test
    void addToAddsWholeNumbersExactlyAndFractionsAsFloats() {
        write(new StoreOp.AddTo(state, "c", 2L), new StoreOp.AddTo(state, "s", 1.25));
        write(new StoreOp.AddTo(state, "c", 3L), new StoreOp.AddTo(state, "s", 2.5));
        assertThat(fields("f")).isEqualTo(Map.of("c", "5", "s", "3.75"));
    }

    @Test
    void addToAddsWholeNumbersBeyondADoublesPrecisionExactly() {
        write(new StoreOp.AddTo(state, "c", 9_007_199_254_740_993L), new StoreOp.AddTo(state, "s", 0.1));
        write(new StoreOp.AddTo(state, "c", 2L), new StoreOp.AddTo(state, "s", 0.2));
        assertThat(fields("f")).isEqualTo(Map.of("c", "9007199254740995", "s", Double.toString(0.1 + 0.2)));
    }

    @Test
    void keepMinAndKeepMaxKeepTheSmallerAndTheLargerNumber() {
        write(new StoreOp.KeepMin(state, "n", "10"), new StoreOp.KeepMax(state, "x", "10"));
        write(new StoreOp.KeepMin(state, "n", "9.5"), new StoreOp.KeepMax(state, "x", "9.5"));
        write(new StoreOp.KeepMin(state, "n", "100"), new StoreOp.KeepMax(state, "x", "100"));
        assertThat(fields("f")).isEqualTo(Map.of("n", "9.5", "x", "100"));
    }

    @Test
    void keepLatestKeepsTheLatestEventTiesByTheLargerEventIdInBytes() {
        String emoji = "x\uD83D\uDE00";
        write(new StoreOp.KeepLatest(state, NOW, 100, emoji, "emoji"));
        write(new StoreOp.KeepLatest(state, NOW, 100, "x\uFF61", "halfwidth")); // larger as Java chars, not in bytes
        write(new StoreOp.KeepLatest(state, NOW, 99, "z", "earlier"));
        assertThat(fields("f")).isEqualTo(Map.of(NOW.field(Tile.Part.LAST_TS), "100",
                NOW.field(Tile.Part.LAST_ID), emoji, NOW.field(Tile.Part.LAST_VALUE), "emoji"));
        write(new StoreOp.KeepLatest(state, NOW, 101, "a", "later"));
        assertThat(fields("f").get(NOW.field(Tile.Part.LAST_VALUE))).isEqualTo("later");
    }

    @Test
    void addDistinctSetsEveryFieldEvenBeyondOneCallOfUnpack() {
        List<String> fields = new ArrayList<>();
        for (int i = 0; i < 2500; i++) {
            fields.add(NOW.distinctField("v" + i));
        }
        write(new StoreOp.AddDistinct(state, fields));
        String distinct = StreamKeys.distinct(namespace, "user", "u1");
        assertThat(fields(distinct, "f")).hasSize(2500).containsEntry(NOW.distinctField("v2499"), "1");
        assertThat(sync.pttl(distinct)).isBetween(50_000L, 60_000L);
    }

    @Test
    void lifetimeDistinctValuesAreKeptApartAndCountedInTheState() {
        write(new StoreOp.AddDistinct(state, List.of(Tile.LIFETIME.distinctField("a"), Tile.LIFETIME.distinctField("b"),
                NOW.distinctField("a"))));
        write(new StoreOp.AddDistinct(state, List.of(Tile.LIFETIME.distinctField("b"), Tile.LIFETIME.distinctField("c"))));
        String seen = StreamKeys.seen(namespace, "user", "u1");
        assertThat(fields(seen, "f").keySet()).containsExactlyInAnyOrder(Tile.LIFETIME.distinctField("a"),
                Tile.LIFETIME.distinctField("b"), Tile.LIFETIME.distinctField("c"));
        assertThat(fields(StreamKeys.distinct(namespace, "user", "u1"), "f")).containsOnlyKeys(NOW.distinctField("a"));
        assertThat(fields("f")).as("the count of values, not the values").isEqualTo(Map.of(Tile.LIFETIME.field(Tile.Part.COUNT), "3"));
        assertThat(sync.pttl(seen)).as("kept for the lifetime").isEqualTo(-1L);
    }

    @Test
    void addRecentKeepsTheHighestScoresAndRaiseRecentNeverLowersOne() {
        write(new StoreOp.AddRecent(state, 2, false, scores("a", 5, "b", 6, "c", 7)));
        assertThat(fields("f").get("r")).isEqualTo("[\"7\",\"c\",\"6\",\"b\"]");
        write(new StoreOp.AddRecent(state, 2, true, scores("c", 1, "b", 8)));
        assertThat(fields("f").get("r")).isEqualTo("[\"8\",\"b\",\"7\",\"c\"]");
        write(new StoreOp.AddRecent(state, 2, false, scores("b", 1)));
        assertThat(fields("f").get("r")).as("without raise-only a score is set").isEqualTo("[\"7\",\"c\",\"1\",\"b\"]");
        write(new StoreOp.AddRecent(state, 3, false, scores("a\u0000\"x\"/\u00fc", 7)));
        assertThat(fields("f").get("r")).as("ties by the larger member, any member as JSON")
                .isEqualTo("[\"7\",\"c\",\"7\",\"a\\u0000\\\"x\\\"\\/\u00fc\",\"1\",\"b\"]");
    }

    private static Map<String, Long> scores(Object... memberScore) {
        Map<String, Long> scores = new LinkedHashMap<>();
        for (int i = 0; i < memberScore.length; i += 2) {
            scores.put((String) memberScore[i], ((Number) memberScore[i + 1]).longValue());
        }
        return scores;
    }

    @Test
    void pruneDropsTheOlderTilesOfItsSizeOncePeriodsHavePassedSinceTheLastPrune() {
        long first = KEPT.start() - PRUNE_PERIODS * G;
        write(new StoreOp.Prune(state, G, first, false), new StoreOp.Prune(state, G, first, true));
        write(new StoreOp.AddTo(state, OLD.field(Tile.Part.COUNT), 1L), new StoreOp.AddTo(state, KEPT.field(Tile.Part.COUNT), 1L),
                new StoreOp.AddDistinct(state, List.of(OLD.distinctField("a:b"), KEPT.distinctField("c"))),
                new StoreOp.AddTo(state, OTHER_SIZE.field(Tile.Part.COUNT), 1L), new StoreOp.AddTo(other, OLD.field(Tile.Part.COUNT), 1L));
        write(new StoreOp.Prune(state, G, KEPT.start() - G, false));
        assertThat(fields("f")).as("fewer periods than a prune waits for").containsKey(OLD.field(Tile.Part.COUNT));

        write(new StoreOp.Prune(state, G, KEPT.start(), false), new StoreOp.Prune(state, G, KEPT.start(), true),
                new StoreOp.AddTo(state, NOW.field(Tile.Part.COUNT), 1L));
        assertThat(fields("f").keySet()).containsExactlyInAnyOrder(KEPT.field(Tile.Part.COUNT), OTHER_SIZE.field(Tile.Part.COUNT),
                NOW.field(Tile.Part.COUNT), G + ":p");
        assertThat(fields(StreamKeys.distinct(namespace, "user", "u1"), "f")).containsOnlyKeys(KEPT.distinctField("c"));
        assertThat(fields("g")).as("another feature's tiles").containsOnlyKeys(OLD.field(Tile.Part.COUNT));
    }

    @Test
    void theStateExpiresAfterItsTtlOrNever() {
        write(new StoreOp.AddTo(state, "c", 1L));
        assertThat(sync.pttl(stateKey)).isBetween(50_000L, 60_000L);
        script.run(sync, new ChunkWrites(List.of(new ChunkWrites.Marked("forever", u1, false)), 60_000, Map.of("user", 0L),
                List.of(new StoreOp.AddTo(state, "c", 1L))));
        assertThat(sync.pttl(stateKey)).isEqualTo(-1L);
    }

    @Test
    void aCallWithAnEventAppliedBeforeWritesNothingAndSaysWhichToSendAgain() {
        String cache = stateKey;
        List<StoreOp> ops = List.of(new StoreOp.AddTo(state, "c", 1L));
        ApplyScript.Reply first = script.run(sync, writes(List.of("a"), ops)).get(0);
        assertThat(first.outcome()).isEqualTo(ApplyScript.APPLIED);
        assertThat(sync.pttl(StreamKeys.appliedMark(namespace, "a"))).isBetween(50_000L, 60_000L);
        assertThat(sync.hget(cache, WindowCache.GENERATION)).isEqualTo("1");
        assertThat(sync.hget(cache, WindowCache.SEQUENCE)).isEqualTo(Long.toString(first.sequence()));
        assertThat(sync.pttl(cache)).isBetween(50_000L, 60_000L);

        assertThat(script.run(sync, writes(List.of("b", "a"), ops))).containsExactly(
                new ApplyScript.Reply(ApplyScript.SEND_AGAIN, 0, false), again(first));
        assertThat(sync.exists(StreamKeys.appliedMark(namespace, "b"))).isZero();
        assertThat(fields("f").get("c")).isEqualTo("1");
        assertThat(sync.hget(cache, WindowCache.GENERATION)).isEqualTo("1");
    }

    @Test
    void eachEntitysEventsAreNumberedOnceInTheOrderApplied() {
        EntityKey u2 = new EntityKey("user", "u2");
        long before = System.currentTimeMillis() * 1000;
        List<ApplyScript.Reply> one = script.run(sync, new ChunkWrites(List.of(new ChunkWrites.Marked("a", u1, true),
                new ChunkWrites.Marked("b", u2, true), new ChunkWrites.Marked("c", u1, true)), 60_000, Map.of("user", 60_000L), List.of()));
        List<ApplyScript.Reply> two = script.run(sync, new ChunkWrites(List.of(new ChunkWrites.Marked("d", u2, true),
                new ChunkWrites.Marked("click", u1, false), new ChunkWrites.Marked("e", u1, true)), 60_000, Map.of("user", 60_000L), List.of()));

        long a = one.get(0).sequence();
        long b = one.get(1).sequence();
        assertThat(a).as("a new entity's numbers start above any number it had before, from the time")
                .isBetween(before, System.currentTimeMillis() * 1000 + 1);
        assertThat(one).containsExactly(new ApplyScript.Reply(ApplyScript.APPLIED, a, true),
                new ApplyScript.Reply(ApplyScript.APPLIED, b, true), new ApplyScript.Reply(ApplyScript.APPLIED, a + 1, false));
        assertThat(two).as("an event without profile rules takes no number").containsExactly(
                new ApplyScript.Reply(ApplyScript.APPLIED, b + 1, false), new ApplyScript.Reply(ApplyScript.APPLIED, 0, false),
                new ApplyScript.Reply(ApplyScript.APPLIED, a + 2, false));
        assertThat(script.run(sync, new ChunkWrites(List.of(new ChunkWrites.Marked("c", u1, true)), 60_000, Map.of("user", 60_000L), List.of())))
                .as("a redelivered event keeps its number").containsExactly(again(one.get(2)));
    }

    @Test
    void anEventAppliedBeforeNumbersWereKeptHasNone() {
        sync.set(StreamKeys.appliedMark(namespace, "old"), "1");
        assertThat(script.run(sync, writes(List.of("old"), List.of())))
                .containsExactly(new ApplyScript.Reply(ApplyScript.APPLIED_BEFORE, 0, false));
    }

    /** Runs the operations as the writes of one new event, expecting the script to refuse them. */
    private RedisCommandExecutionException refused(StoreOp... ops) {
        String event = "e" + ++events;
        RedisCommandExecutionException e = catchThrowableOfType(RedisCommandExecutionException.class,
                () -> script.run(sync, writes(List.of(event), List.of(ops))));
        assertThat(e).as("refused").isNotNull();
        assertThat(sync.exists(StreamKeys.appliedMark(namespace, event))).as("no applied mark").isZero();
        return e;
    }

    @Test
    void aSumThatWouldNotBeAFiniteDoubleIsRefusedAndNothingOfTheCallIsWritten() {
        write(new StoreOp.AddTo(state, "s", 1e308), new StoreOp.AddTo(other, "c", 1L));
        Map<String, String> before = sync.hgetall(stateKey);

        RedisCommandExecutionException e = refused(new StoreOp.AddTo(other, "c", 1L), new StoreOp.KeepMax(other, "x", "7"),
                new StoreOp.AddDistinct(state, List.of(NOW.distinctField("v"), Tile.LIFETIME.distinctField("v"))),
                new StoreOp.AddTo(state, "s", 1e308));

        assertThat(e.getMessage()).startsWith(ApplyScript.VALUE_ERROR + " ").contains("would not give a finite number");
        assertThat(redis.failure("applying", e)).isInstanceOf(StoreRejectedException.class);
        assertThat(sync.hgetall(stateKey)).isEqualTo(before);
        assertThat(Double.parseDouble(fields("f").get("s"))).isEqualTo(1e308);
        assertThat(sync.exists(StreamKeys.distinct(namespace, "user", "u1"), StreamKeys.seen(namespace, "user", "u1"))).isZero();
    }

    @Test
    void aFieldOfASumHoldingNoNumberIsRefusedAndNothingOfTheCallIsWritten() {
        sync.hset(stateKey, "f/s", "not a number");

        RedisCommandExecutionException e = refused(new StoreOp.AddTo(other, "c", 1L), new StoreOp.AddTo(state, "s", 2.5));

        assertThat(e.getMessage()).startsWith(ApplyScript.VALUE_ERROR + " ").contains("not a finite number");
        assertThat(redis.failure("applying", e)).isInstanceOf(StoreRejectedException.class);
        assertThat(sync.hgetall(stateKey)).isEqualTo(Map.of("f/s", "not a number"));
    }

    @Test
    void aKeyOfAnotherTypeThanAHashFailsTheCallBeforeAnyWrite() {
        String seen = StreamKeys.seen(namespace, "user", "u1");
        sync.set(seen, "a string");

        RedisCommandExecutionException e = refused(new StoreOp.AddTo(other, "c", 1L),
                new StoreOp.AddDistinct(state, List.of(Tile.LIFETIME.distinctField("v"))));

        assertThat(e.getMessage()).startsWith("WRONGTYPE");
        assertThat(redis.failure("applying", e)).isInstanceOf(StoreFailedException.class);
        assertThat(sync.exists(stateKey)).isZero();
        assertThat(sync.get(seen)).isEqualTo("a string");
    }
}
