package dev.featurepipe.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.featurepipe.config.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiKeysTest {
    @TempDir
    Path dir;

    private ApiKeys load(String... lines) throws IOException {
        Path file = dir.resolve("keys.txt");
        Files.write(file, List.of(lines));
        return ApiKeys.load(file, Set.of("customer", "merchant"));
    }

    @Test
    void aNewKeyIsFoundByTheLineItPrintsWithItsScopesAndEntities() throws IOException {
        String key = ApiKeys.newKey();
        String other = ApiKeys.newKey();
        ApiKeys keys = load("# comment", "", ApiKeys.line(other, Set.of(Scope.READ), Set.of(), "other") + "  # reads",
                ApiKeys.line(key, Set.of(Scope.INGEST), Set.of("customer"), "checkout"));

        ApiKey found = keys.find(key).orElseThrow();

        assertThat(found.name()).isEqualTo("checkout");
        assertThat(found.allows(Scope.INGEST)).isTrue();
        assertThat(found.allows(Scope.READ)).isFalse();
        assertThat(found.entities()).containsExactly("customer");
        assertThat(keys.find(other).orElseThrow().name()).isEqualTo("other");
        assertThat(keys.find(key + "x")).isEmpty();
        assertThat(key).isNotEqualTo(other).startsWith("fpk_").hasSizeGreaterThan(40);
    }

    @Test
    void adminMayDoEverything() throws IOException {
        String key = ApiKeys.newKey();
        ApiKey admin = load(ApiKeys.line(key, Set.of(Scope.ADMIN), Set.of(), null)).find(key).orElseThrow();
        assertThat(Set.of(Scope.values())).allMatch(admin::allows);
        assertThat(admin.name()).isEqualTo("line-1");
    }

    @Test
    void everyBadLineIsReportedAtOnceWithoutTheFileGivingAKeyAway() {
        String hash = "sha256:" + "ab".repeat(32);
        assertThatThrownBy(() -> load("abc scopes=read", hash + " scopes=write", hash + " scopes=read entities=shop",
                hash + " scopes=read colour=red", hash, hash + " scopes=read name=a", hash + " scopes=read name=a"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("line 1: must start with sha256:")
                .hasMessageContaining("line 2: unknown scope 'write'")
                .hasMessageContaining("line 3: unknown entity 'shop'")
                .hasMessageContaining("line 4: unknown field 'colour'")
                .hasMessageContaining("line 5: names no scope")
                .hasMessageContaining("name 'a' is used twice");
    }

    @Test
    void aMissingOrEmptyFileSaysWhatToDo() throws IOException {
        assertThatThrownBy(() -> ApiKeys.load(dir.resolve("none.txt"), Set.of()))
                .hasMessageContaining("FP_API_KEYS_FILE").hasMessageContaining("./fp api-key new").hasMessageContaining("FP_AUTH=off");
        assertThatThrownBy(() -> load("# nothing yet")).hasMessageContaining("holds no key");
    }
}
