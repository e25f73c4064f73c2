package dev.featurepipe.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class CorpusGeneratorTest {
    private static final List<String> CATEGORIES = List.of("invalid-json", "invalid-utf8", "wrong-type", "missing-field",
            "huge", "deep-nesting", "numbers", "control-characters", "metacharacters", "path-tricks", "unknown-type-entity",
            "method-content-type", "ndjson", "raw", "auth");

    @Test
    void theCommittedCorpusIsWhatTheGeneratorWrites() throws IOException {
        String committed;
        try (InputStream in = getClass().getResourceAsStream("/hostile/corpus.jsonl.gz")) {
            committed = HostileCase.read(in);
        }
        // a difference means the generator changed: run ./fp hostile-corpus and commit the corpus with it
        assertThat(committed).isEqualTo(HostileCase.render(CorpusGenerator.cases(CorpusGenerator.SEED)));
    }

    @Test
    void theCorpusCoversEveryCategoryAndRouteWithUniqueNames() {
        List<HostileCase> cases = CorpusGenerator.cases(CorpusGenerator.SEED);
        assertThat(cases).hasSizeGreaterThanOrEqualTo(500);
        assertThat(cases.stream().map(HostileCase::name).distinct().count()).isEqualTo(cases.size());
        Map<String, Long> perCategory = cases.stream().collect(Collectors.groupingBy(HostileCase::category, Collectors.counting()));
        assertThat(perCategory.keySet()).containsExactlyInAnyOrderElementsOf(CATEGORIES);
        Set<String> paths = cases.stream().filter(c -> !c.isRaw()).map(c -> c.path().split("\\?")[0]).collect(Collectors.toSet());
        assertThat(paths).contains("/v1/events", "/v1/features", "/v1/features/customer/c-1", "/get-online-features",
                "/healthz", "/readyz", "/metrics");
        assertThat(cases).anySatisfy(c -> assertThat(c.path()).isEqualTo("/v1/events?mode=partial"));
        assertThat(cases).anySatisfy(c -> assertThat(c.headers()).containsEntry("Content-Type", "application/x-ndjson"));
        assertThat(cases.stream().map(HostileCase::key).collect(Collectors.toSet()))
                .contains("none", "unknown", "all", "ingest", "read");
    }

    @Test
    void aCaseReadsBackAsItWasWritten() {
        for (HostileCase c : CorpusGenerator.cases(CorpusGenerator.SEED).subList(0, 50)) {
            HostileCase back = HostileCase.parse(c.toLine());
            assertThat(back.toLine()).isEqualTo(c.toLine());
            assertThat(back.isRaw() ? back.rawBytes() : back.bodyBytes()).isEqualTo(c.isRaw() ? c.rawBytes() : c.bodyBytes());
        }
    }

    @Test
    void anotherSeedGivesAnotherCorpusOfTheSameCases() {
        List<HostileCase> other = CorpusGenerator.cases(CorpusGenerator.SEED + 1);
        List<HostileCase> cases = CorpusGenerator.cases(CorpusGenerator.SEED);
        assertThat(HostileCase.render(other)).isNotEqualTo(HostileCase.render(cases));
        assertThat(other).hasSameSizeAs(cases);
    }
}
