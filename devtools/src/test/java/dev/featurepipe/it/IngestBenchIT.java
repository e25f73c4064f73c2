package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.featurepipe.bench.IngestBench;
import dev.featurepipe.config.Config;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@code ./fp bench ingest} runs with the process's own settings, access control on (the default) included. */
@ExtendWith(TestServices.class)
@Timeout(120)
class IngestBenchIT {
    @Test
    void measuresBothFsyncModesWhenTheSettingsRequireApiKeys() throws InterruptedException {
        Config config = TestServices.config("../registry/retail.yaml", Map.of(Config.AUTH, "keys",
                Config.API_KEYS_FILE, "no-such-api-keys.txt"));
        ByteArrayOutputStream printed = new ByteArrayOutputStream();

        List<IngestBench.Result> results = new IngestBench(config, 1, Duration.ofMillis(500),
                new PrintStream(printed, true, StandardCharsets.UTF_8)).run();

        assertThat(results).extracting(IngestBench.Result::mode).containsExactlyElementsOf(IngestBench.MODES);
        assertThat(results).allSatisfy(r -> {
            assertThat(r.batchedEventsPerSecond()).isPositive();
            assertThat(r.singleEventsPerSecond()).isPositive();
        });
        assertThat(printed.toString(StandardCharsets.UTF_8)).contains("single-event");
    }
}
