package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code ./fp chaos --quick} as CI runs it: the command, from the built jar, with its own servers on ports of this
 * test run; every scenario recovers, and nothing accepted is lost or counted twice.
 */
@Timeout(900)
class ChaosQuickIT {
    private static final Path JAR = Path.of("target/featurepipe-dev.jar").toAbsolutePath();
    /** 15100 + the test run's offset: below every test server's port (16379 and up), with room for 7 ports. */
    private static final int BASE_PORT = 15_100 + Integer.getInteger("fp.it.portOffset", 0);

    @Test
    void everyScenarioRecoversWithNothingLostOrDuplicated() throws Exception {
        assertThat(Files.exists(JAR)).as(JAR + " (built by mvn package)").isTrue();
        Path log = Path.of("target/chaos-quick.log").toAbsolutePath();
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-Dfp.home=" + Path.of("..").toAbsolutePath().normalize(), "-jar", JAR.toString(),
                "chaos", "--quick", "--base-port", Integer.toString(BASE_PORT))
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("FP_DATA_DIR", Path.of("target/it-chaos").toAbsolutePath().toString());
        long t0 = System.nanoTime();
        Process chaos = pb.start();
        boolean exited = chaos.waitFor(14, TimeUnit.MINUTES);
        if (!exited) {
            chaos.destroy();
            chaos.waitFor(30, TimeUnit.SECONDS);
        }
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        lines.forEach(System.out::println);
        System.out.printf("chaos --quick took %.0f s%n", (System.nanoTime() - t0) / 1e9);
        assertThat(exited).as("exited").isTrue();
        assertThat(lines).isNotEmpty();
        assertThat(lines.get(lines.size() - 1)).isEqualTo("chaos: scenarios=9 lost=0 duplicated=0");
        assertThat(chaos.exitValue()).isZero();
    }
}
