package dev.featurepipe.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** apply.lua takes every name it shares with Java from Java. */
class ApplyScriptTest {
    @Test
    void everyNameTheScriptUsesIsDefinedInJavaAndEveryOneDefinedIsUsed() {
        String source = RedisScript.source("apply.lua", ApplyScript.literals());
        assertThat(source).doesNotContainPattern("\\{\\{[A-Z_]+}}").contains("local GENERATION, SEQUENCE, TTL = '@gen', '@seq', '@ttl'").contains("'^(%d+)%:(%d+)%:'");

        Map<String, String> fewer = new HashMap<>(ApplyScript.literals());
        fewer.remove("LAST_TS");
        assertThatThrownBy(() -> RedisScript.source("apply.lua", fewer)).hasMessageContaining("LAST_TS");
        Map<String, String> more = new HashMap<>(ApplyScript.literals());
        more.put("UNUSED", "1");
        assertThatThrownBy(() -> RedisScript.source("apply.lua", more)).hasMessageContaining("UNUSED");
    }
}
