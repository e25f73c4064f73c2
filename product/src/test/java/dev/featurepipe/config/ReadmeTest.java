package dev.featurepipe.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The README documents every setting with its real default. */
class ReadmeTest {
    @Test
    void everySettingIsInTheReadmeTableWithItsDefault() throws IOException {
        String readme = Files.readString(Path.of("../README.md"));
        for (Setting<?> s : Config.ALL) {
            String expected = s == Config.CONSUMER_NAME ? "`<host name>-<n>`" : "`" + s.defaultValue() + "`";
            assertThat(readme).as(s.env()).contains("| `" + s.env() + "` | " + expected + " |");
        }
    }

    @Test
    void ciRunsTheReadmeTestCommand() throws IOException {
        String command = "mvn -B verify";
        assertThat(Files.readString(Path.of("../README.md"))).contains(command + "      # all tests");
        assertThat(Files.readString(Path.of("../.ci/run"))).contains("\n" + command + "\n");
    }
}
