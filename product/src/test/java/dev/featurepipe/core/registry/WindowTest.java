package dev.featurepipe.core.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class WindowTest {
    private final Window hour = new Window("1h", Duration.ofHours(1), Duration.ofMinutes(5));

    @Test
    void coversThePartialTilePlusWholeTilesOfTheWindowLength() {
        long t = Duration.ofHours(10).plusMinutes(7).toMillis(); // 10:07, tile 10:05-10:10
        assertThat(hour.tileStart(t)).isEqualTo(Duration.ofHours(10).plusMinutes(5).toMillis());
        assertThat(hour.lowerBound(t)).isEqualTo(Duration.ofHours(9).plusMinutes(5).toMillis());
        assertThat(hour.retentionMs()).isEqualTo(Duration.ofMinutes(65).toMillis());
    }

    @Test
    void tileStartRoundsDownBeforeEpochToo() {
        assertThat(hour.tileStart(-1)).isEqualTo(-Duration.ofMinutes(5).toMillis());
    }

    @Test
    void aWindowMustBeAMultipleOfItsTile() {
        assertThatThrownBy(() -> new Window("7m", Duration.ofMinutes(7), Duration.ofMinutes(5)))
                .hasMessageContaining("not a multiple");
    }
}
