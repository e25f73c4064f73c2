package dev.featurepipe.online;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** A cache entry serves only the generation and lower bound it was written for. */
class WindowCacheTest {
    @Test
    void anEntryIsServedForItsGenerationAndLowerBoundOnly() {
        String entry = WindowCache.entry("12", -300, true, 4.5);
        assertThat(entry).isEqualTo("12 -300 v4.5");
        assertThat(WindowCache.lookup(entry, "12", -300)).isEqualTo(new WindowCache.Hit(true, "4.5"));
        assertThat(WindowCache.lookup(entry, "1", -300)).as("another generation").isNull();
        assertThat(WindowCache.lookup(entry, "123", -300)).as("a longer generation").isNull();
        assertThat(WindowCache.lookup(entry, "12", 0)).as("another lower bound").isNull();
        assertThat(WindowCache.lookup(entry, null, -300)).as("no generation yet").isNull();
        assertThat(WindowCache.lookup(null, "12", -300)).as("no entry").isNull();
    }

    @Test
    void aWindowWithoutValueAndAFeatureWithoutStateAreServedAsSuch() {
        assertThat(WindowCache.lookup(WindowCache.entry("3", 7, true, null), "3", 7)).isEqualTo(new WindowCache.Hit(true, null));
        assertThat(WindowCache.lookup(WindowCache.entry("3", 7, false, null), "3", 7)).isEqualTo(new WindowCache.Hit(false, null));
    }
}
