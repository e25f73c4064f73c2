package dev.featurepipe.clickhouse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ClickHouseVersionTest {
    @Test
    void asyncInsertIsPinnedOffFrom21Point11On() {
        assertThat(ClickHouseVersion.parse("18.16.1").knowsAsyncInsert()).isFalse();
        assertThat(ClickHouseVersion.parse("21.10.6.2").knowsAsyncInsert()).isFalse();
        assertThat(ClickHouseVersion.parse("21.11.1.8636").knowsAsyncInsert()).isTrue();
        assertThat(ClickHouseVersion.parse("22.3.20.29").knowsAsyncInsert()).isTrue();
        assertThat(ClickHouseVersion.parse("26.7.1.1\n").knowsAsyncInsert()).isTrue();
    }

    @Test
    void readsMajorAndMinorOfEveryVersionForm() {
        assertThat(ClickHouseVersion.parse("18.16.1")).isEqualTo(new ClickHouseVersion(18, 16));
        assertThat(ClickHouseVersion.parse("24.8")).isEqualTo(new ClickHouseVersion(24, 8));
        assertThatThrownBy(() -> ClickHouseVersion.parse("Ok.")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Ok.");
    }
}
