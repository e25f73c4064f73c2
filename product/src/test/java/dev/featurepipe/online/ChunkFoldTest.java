package dev.featurepipe.online;

import static dev.featurepipe.online.OnlineModelTest.MINUTE;
import static dev.featurepipe.online.OnlineModelTest.REGISTRY;
import static dev.featurepipe.online.OnlineModelTest.T;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.StoreRejectedException;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.online.OnlineModelTest.Order;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The operations a chunk of events folds into: one per field, prunes of old tiles, how long state is kept, late events. */
class ChunkFoldTest {
    private static final long HOUR = 60 * MINUTE;
    private static final FeatureKey CLICKS = new FeatureKey("user", "u1", "clicks");

    private static Event click(String id, long ts) {
        return new Event(id, "click", "u1", ts, Map.of("page", "home"));
    }

    @Test
    void theEventsOfAChunkWritingOneFieldMakeOneOperation() {
        Order a = new Order("a", T - 1, 1.25, 2L, "s");
        Order b = new Order("b", T - 2, 2.5, 3L, "s");
        ChunkWrites writes = OnlineModelTest.chunk(T, a, b).writes();

        Tile tile = Tile.holding(5 * MINUTE, T);
        FeatureKey spend = new FeatureKey("user", "u1", "spend");
        assertThat(writes.ops()).filteredOn(op -> op.key().equals(spend) && op instanceof StoreOp.AddTo)
                .containsExactlyInAnyOrder(new StoreOp.AddTo(spend, tile.field(Tile.Part.SUM), 3.75),
                        new StoreOp.AddTo(spend, Tile.LIFETIME.field(Tile.Part.SUM), 3.75));
        FeatureKey units = new FeatureKey("user", "u1", "units");
        assertThat(writes.ops()).as("whole numbers stay exact")
                .contains(new StoreOp.AddTo(units, tile.field(Tile.Part.SUM), 5L));
        EntityKey u1 = new EntityKey("user", "u1");
        assertThat(writes.appliedEvents()).containsExactly(new ChunkWrites.Marked(a.event().key(), u1, false),
                new ChunkWrites.Marked(b.event().key(), u1, false));
        assertThat(writes.entities()).containsExactly(u1);
    }

    @Test
    void anEventRepeatedInAChunkIsFoldedOnce() {
        ChunkFold fold = new ChunkFold(REGISTRY, T);
        assertThat(fold.add(click("c1", T))).isEqualTo(ChunkFold.Added.CHANGES);
        assertThat(fold.add(click("c1", T))).isEqualTo(ChunkFold.Added.REPEATED);

        assertThat(fold.writes().ops()).contains(new StoreOp.AddTo(CLICKS, Tile.holding(5 * MINUTE, T).field(Tile.Part.COUNT), 1L));
    }

    @Test
    void anEventTooOldForEveryWindowIsLateAndWritesNoTile() {
        long oldestRead = T - Math.floorMod(T, 5 * MINUTE) - HOUR; // the 1h window's lower bound at T
        ChunkFold fold = new ChunkFold(REGISTRY, T);
        assertThat(fold.add(click("old", oldestRead - 1))).isEqualTo(ChunkFold.Added.LATE);
        assertThat(fold.writes().ops()).as("no write").isEmpty();

        assertThat(fold.add(click("oldest-read", oldestRead))).isEqualTo(ChunkFold.Added.CHANGES);
        assertThat(fold.writes().ops()).contains(new StoreOp.AddTo(CLICKS, new Tile(5 * MINUTE, oldestRead).field(Tile.Part.COUNT), 1L));
    }

    @Test
    void anEventWithALifetimeWindowIsNeverLate() {
        ChunkFold fold = new ChunkFold(REGISTRY, T);
        assertThat(fold.add(new Order("old", T - 1000 * HOUR, 1, null, "s").event())).isEqualTo(ChunkFold.Added.CHANGES);
    }

    @Test
    void eachTileSizeWrittenDropsTheTilesNoWindowReadsAnyMore() {
        InMemoryState state = new InMemoryState();
        for (long ts : new long[] {T - 50 * MINUTE, T - 5 * MINUTE}) {
            ChunkFold fold = new ChunkFold(REGISTRY, T);
            fold.add(click("c" + ts, ts));
            state.write(fold.writes());
        }
        long later = T + 20 * MINUTE;
        ChunkFold fold = new ChunkFold(REGISTRY, later);
        fold.add(click("new", later));
        ChunkWrites writes = fold.writes();

        long cutoff = later - Math.floorMod(later, 5 * MINUTE) - HOUR;
        assertThat(writes.ops()).contains(new StoreOp.Prune(CLICKS, 5 * MINUTE, cutoff, false));
        state.write(writes);
        assertThat(state.hash(CLICKS).keySet()).as("the tile of T-50m is before the cutoff")
                .noneMatch(f -> f.startsWith(Tile.holding(5 * MINUTE, T - 50 * MINUTE).prefix()))
                .contains(Tile.holding(5 * MINUTE, T - 5 * MINUTE).field(Tile.Part.COUNT),
                        Tile.holding(5 * MINUTE, later).field(Tile.Part.COUNT));
    }

    @Test
    void anEntityWithALifetimeOrRecentValuesKeepsItsStateElseAsLongAsTheMarks() {
        ChunkFold fold = new ChunkFold(REGISTRY, T);
        fold.add(click("a", T));
        fold.add(new Order("o", T, 1, null, "s").event());
        assertThat(fold.writes().stateTtlMs()).isEqualTo(Map.of("user", 0L));

        Registry clicksOnly = RegistryLoader.parse("""
                entities: {page: {key: page_id}}
                events: {view: {entity: page, fields: {}}}
                features:
                  - {name: views, event: view, aggregation: count, windows: [1h]}
                """, "windows only");
        ChunkFold views = new ChunkFold(clicksOnly, T);
        views.add(new Event("v", "view", "p1", T, Map.of()));
        assertThat(views.writes().stateTtlMs()).isEqualTo(Map.of("page", 24 * HOUR));
    }

    @Test
    void appliedMarksOutliveTheLongestWindowAndADayAtLeast() {
        ChunkFold fold = new ChunkFold(REGISTRY, T);
        fold.add(click("a", T));
        assertThat(fold.writes().ttlMs()).isEqualTo(24 * HOUR);
    }

    @Test
    void aValueThatIsNotAFiniteNumberFailsTheEvent() {
        ChunkFold fold = new ChunkFold(REGISTRY, T);
        assertThatThrownBy(() -> fold.add(new Order("inf", T, Double.POSITIVE_INFINITY, 1L, "s").event()))
                .isInstanceOf(StoreRejectedException.class).hasMessageContaining("spend").hasMessageContaining("Infinity");
    }

    @Test
    void finiteAmountsThatAddUpToInfinityFailTheCallBeforeAnythingIsSent() {
        Registry sumOnly = RegistryLoader.parse("""
                entities: {user: {key: user_id}}
                events: {order: {entity: user, fields: {amount: {type: double, required: true}}}}
                features: [{name: spend, event: order, aggregation: sum, value: amount}]
                """, "a sum");
        ChunkFold fold = new ChunkFold(sumOnly, T);
        fold.add(new Event("big-1", "order", "u1", T, Map.of("amount", 1e308)));
        assertThatThrownBy(() -> fold.add(new Event("big-2", "order", "u1", T, Map.of("amount", 1e308))))
                .isInstanceOf(StoreRejectedException.class).hasMessageContaining("spend").hasMessageContaining("Infinity");
    }

    @Test
    void wholeNumbersWhoseSumOverflowsALongAreAddedAsDoubles() {
        ChunkWrites writes = OnlineModelTest.chunk(T, new Order("a", T, 1, Long.MAX_VALUE, "s"),
                new Order("b", T, 1, 1L, "s")).writes();
        FeatureKey units = new FeatureKey("user", "u1", "units");
        assertThat(writes.ops()).contains(new StoreOp.AddTo(units, Tile.holding(5 * MINUTE, T).field(Tile.Part.SUM),
                Long.MAX_VALUE + 1.0));
    }

    @Test
    void eventsOfTwoTypesSharingAnEventIdAreTwoEvents() {
        ChunkFold fold = new ChunkFold(REGISTRY, T);
        assertThat(fold.add(click("same", T))).isEqualTo(ChunkFold.Added.CHANGES);
        assertThat(fold.add(new Order("same", T, 1, 1L, "s").event())).isEqualTo(ChunkFold.Added.CHANGES);
        assertThat(fold.writes().appliedEvents()).hasSize(2);
    }

    @Test
    void aDistinctValueWithTheSeparatorInItIsReadBack() {
        Tile tile = new Tile(5 * MINUTE, T - Math.floorMod(T, 5 * MINUTE));
        assertThat(Tile.parse(tile.distinctField("a:b"))).isEqualTo(new Tile.Field(tile, Tile.Part.DISTINCT, "a:b"));
        assertThat(Tile.parse(tile.field(Tile.Part.LAST_VALUE))).isEqualTo(new Tile.Field(tile, Tile.Part.LAST_VALUE, null));
        assertThat(Tile.parse("not:a tile")).isNull();
        assertThat(List.of(Tile.holding(0, T), Tile.holding(5 * MINUTE, -1))).containsExactly(Tile.LIFETIME,
                new Tile(5 * MINUTE, -5 * MINUTE));
    }
}
