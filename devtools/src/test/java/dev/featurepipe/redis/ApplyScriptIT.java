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
import io.lettuce.core.ScoredValue;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.util.ArrayList;
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

    private final FeatureKey state = new FeatureKey("user", "u1", "f");
    private final String namespace = "it-apply-" + UUID.randomUUID();
    private final String key = StreamKeys.feature(namespace, "user", "u1", "f");
    private final FeatureKey other = new FeatureKey("user", "u1", "g");
    private final String otherKey = StreamKeys.feature(namespace, "user", "u1", "g");
    private RedisConnections redis;
    private RedisClusterCommands<String, String> sync;
    private ApplyScript script;
    private int events;

    @BeforeEach
    void connect() {
        redis = new RedisConnections(TestServices.config("src/test/resources/registry/it.yaml", Map.of()).get(Config.REDIS_URL));
        sync = redis.shared().sync();
        script = new ApplyScript(Shards.single(namespace));
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
        return new ChunkWrites(eventKeys.stream().map(e -> new ChunkWrites.Marked(e, u1, true)).toList(), 60_000, ops);
    }

    @Test
    void addToAddsWholeNumbersExactlyAndFractionsAsFloats() {
        write(new StoreOp.AddTo(state, "c", 2L), new StoreOp.AddTo(state, "s", 1.25));
        write(new StoreOp.AddTo(state, "c", 3L), new StoreOp.AddTo(state, "s", 2.5));
        assertThat(sync.hgetall(key)).isEqualTo(Map.of("c", "5", "s", "3.75"));
    }

    @Test
    void keepMinAndKeepMaxKeepTheSmallerAndTheLargerNumber() {
        write(new StoreOp.KeepMin(state, "n", "10"), new StoreOp.KeepMax(state, "x", "10"));
        write(new StoreOp.KeepMin(state, "n", "9.5"), new StoreOp.KeepMax(state, "x", "9.5"));
        write(new StoreOp.KeepMin(state, "n", "100"), new StoreOp.KeepMax(state, "x", "100"));
        assertThat(sync.hgetall(key)).isEqualTo(Map.of("n", "9.5", "x", "100"));
    }

    @Test
    void keepLatestKeepsTheLatestEventTiesByTheLargerEventIdInBytes() {
        String emoji = "x\uD83D\uDE00";
        write(new StoreOp.KeepLatest(state, NOW, 100, emoji, "emoji"));
        write(new StoreOp.KeepLatest(state, NOW, 100, "x\uFF61", "halfwidth")); // larger as Java chars, not in bytes
        write(new StoreOp.KeepLatest(state, NOW, 99, "z", "earlier"));
        assertThat(sync.hgetall(key)).isEqualTo(Map.of(NOW.field(Tile.Part.LAST_TS), "100",
                NOW.field(Tile.Part.LAST_ID), emoji, NOW.field(Tile.Part.LAST_VALUE), "emoji"));
        write(new StoreOp.KeepLatest(state, NOW, 101, "a", "later"));
        assertThat(sync.hget(key, NOW.field(Tile.Part.LAST_VALUE))).isEqualTo("later");
    }

    @Test
    void addDistinctSetsEveryFieldEvenBeyondOneCallOfUnpack() {
        List<String> fields = new ArrayList<>();
        for (int i = 0; i < 2500; i++) {
            fields.add(NOW.distinctField("v" + i));
        }
        write(new StoreOp.AddDistinct(state, fields));
        assertThat(sync.hlen(key)).isEqualTo(2500);
        assertThat(sync.hget(key, NOW.distinctField("v2499"))).isEqualTo("1");
    }

    @Test
    void addRecentKeepsTheHighestScoresAndRaiseRecentNeverLowersOne() {
        write(new StoreOp.AddRecent(state, 2, false, scores("a", 5, "b", 6, "c", 7)));
        assertThat(sync.zrevrangeWithScores(key, 0, -1)).containsExactly(ScoredValue.just(7, "c"), ScoredValue.just(6, "b"));
        write(new StoreOp.AddRecent(state, 2, true, scores("c", 1, "b", 8)));
        assertThat(sync.zrevrangeWithScores(key, 0, -1)).containsExactly(ScoredValue.just(8, "b"), ScoredValue.just(7, "c"));
        write(new StoreOp.AddRecent(state, 2, false, scores("b", 1)));
        assertThat(sync.zrevrangeWithScores(key, 0, -1)).as("without raise-only a score is set")
                .containsExactly(ScoredValue.just(7, "c"), ScoredValue.just(1, "b"));
    }

    private static Map<String, Long> scores(Object... memberScore) {
        Map<String, Long> scores = new LinkedHashMap<>();
        for (int i = 0; i < memberScore.length; i += 2) {
            scores.put((String) memberScore[i], ((Number) memberScore[i + 1]).longValue());
        }
        return scores;
    }

    @Test
    void markTileDropsTheOlderTilesOfItsSizeOnTheFirstWriteOfATileOnly() {
        write(new StoreOp.AddTo(state, OLD.field(Tile.Part.COUNT), 1L), new StoreOp.AddTo(state, KEPT.field(Tile.Part.COUNT), 1L),
                new StoreOp.AddDistinct(state, List.of(OLD.distinctField("a:b"))),
                new StoreOp.AddTo(state, OTHER_SIZE.field(Tile.Part.COUNT), 1L));
        write(new StoreOp.MarkTile(state, NOW, KEPT.start()), new StoreOp.AddTo(state, NOW.field(Tile.Part.COUNT), 1L));
        assertThat(sync.hkeys(key)).containsExactlyInAnyOrder(KEPT.field(Tile.Part.COUNT), OTHER_SIZE.field(Tile.Part.COUNT),
                NOW.field(Tile.Part.MARK), NOW.field(Tile.Part.COUNT));

        write(new StoreOp.AddTo(state, OLD.field(Tile.Part.COUNT), 1L));
        write(new StoreOp.MarkTile(state, NOW, KEPT.start() + G));
        assertThat(sync.hexists(key, OLD.field(Tile.Part.COUNT))).as("the tile was marked: nothing dropped").isTrue();
    }

    @Test
    void expireSetsTheTimeToLiveOfTheState() {
        write(new StoreOp.AddTo(state, "c", 1L), new StoreOp.Expire(state, 50_000));
        assertThat(sync.pttl(key)).isBetween(40_000L, 50_000L);
    }

    @Test
    void aCallWithAnEventAppliedBeforeWritesNothingAndSaysWhichToSendAgain() {
        String cache = StreamKeys.windowCache(namespace, "user", "u1");
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
        assertThat(sync.hget(key, "c")).isEqualTo("1");
        assertThat(sync.hget(cache, WindowCache.GENERATION)).isEqualTo("1");
    }

    @Test
    void eachEntitysEventsAreNumberedOnceInTheOrderApplied() {
        EntityKey u2 = new EntityKey("user", "u2");
        long before = System.currentTimeMillis() * 1000;
        List<ApplyScript.Reply> one = script.run(sync, new ChunkWrites(List.of(new ChunkWrites.Marked("a", u1, true),
                new ChunkWrites.Marked("b", u2, true), new ChunkWrites.Marked("c", u1, true)), 60_000, List.of()));
        List<ApplyScript.Reply> two = script.run(sync, new ChunkWrites(List.of(new ChunkWrites.Marked("d", u2, true),
                new ChunkWrites.Marked("click", u1, false), new ChunkWrites.Marked("e", u1, true)), 60_000, List.of()));

        long a = one.get(0).sequence();
        long b = one.get(1).sequence();
        assertThat(a).as("a new entity's numbers start above any number it had before, from the time")
                .isBetween(before, System.currentTimeMillis() * 1000 + 1);
        assertThat(one).containsExactly(new ApplyScript.Reply(ApplyScript.APPLIED, a, true),
                new ApplyScript.Reply(ApplyScript.APPLIED, b, true), new ApplyScript.Reply(ApplyScript.APPLIED, a + 1, false));
        assertThat(two).as("an event without profile rules takes no number").containsExactly(
                new ApplyScript.Reply(ApplyScript.APPLIED, b + 1, false), new ApplyScript.Reply(ApplyScript.APPLIED, 0, false),
                new ApplyScript.Reply(ApplyScript.APPLIED, a + 2, false));
        assertThat(script.run(sync, new ChunkWrites(List.of(new ChunkWrites.Marked("c", u1, true)), 60_000, List.of())))
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
        Map<String, String> before = sync.hgetall(otherKey);
        Map<String, String> counters = sync.hgetall(StreamKeys.windowCache(namespace, "user", "u1"));

        RedisCommandExecutionException e = refused(new StoreOp.AddTo(other, "c", 1L), new StoreOp.KeepMax(other, "x", "7"),
                new StoreOp.AddTo(state, "s", 1e308));

        assertThat(e.getMessage()).startsWith(ApplyScript.VALUE_ERROR + " ").contains("would not give a finite number");
        assertThat(redis.failure("applying", e)).isInstanceOf(StoreRejectedException.class);
        assertThat(sync.hgetall(otherKey)).isEqualTo(before);
        assertThat(Double.parseDouble(sync.hget(key, "s"))).isEqualTo(1e308);
        assertThat(sync.hgetall(StreamKeys.windowCache(namespace, "user", "u1"))).isEqualTo(counters);
    }

    @Test
    void aFieldOfASumHoldingNoNumberIsRefusedAndNothingOfTheCallIsWritten() {
        sync.hset(key, "s", "not a number");

        RedisCommandExecutionException e = refused(new StoreOp.AddTo(other, "c", 1L), new StoreOp.AddTo(state, "s", 2.5));

        assertThat(e.getMessage()).startsWith(ApplyScript.VALUE_ERROR + " ").contains("not a finite number");
        assertThat(redis.failure("applying", e)).isInstanceOf(StoreRejectedException.class);
        assertThat(sync.exists(otherKey)).isZero();
    }

    @Test
    void aKeyOfAnotherTypeThanItsOperationsNeedFailsTheCallBeforeAnyWrite() {
        sync.set(key, "a string");

        RedisCommandExecutionException e = refused(new StoreOp.AddTo(other, "c", 1L), new StoreOp.KeepMin(state, "n", "1"));

        assertThat(e.getMessage()).startsWith("WRONGTYPE");
        assertThat(redis.failure("applying", e)).isInstanceOf(StoreFailedException.class);
        assertThat(sync.exists(otherKey)).isZero();
    }
}
