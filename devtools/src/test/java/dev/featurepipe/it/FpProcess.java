package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A {@code ./fp} command as a process of its own (the jar that {@code ./fp} runs), its output kept in a file. */
final class FpProcess implements AutoCloseable {
    private static final Path JAR = Path.of("target/featurepipe-dev.jar").toAbsolutePath();

    private final Process process;
    private final Path output;

    private FpProcess(Process process, Path output) {
        this.process = process;
        this.output = output;
    }

    /** Starts {@code java -jar featurepipe-dev.jar args...} with these variables added to the environment. */
    static FpProcess start(String name, Map<String, String> env, String... args) throws IOException {
        assertThat(Files.exists(JAR)).as(JAR + " (built by mvn package)").isTrue();
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-jar", JAR.toString()));
        command.addAll(List.of(args));
        Path output = Path.of("target/" + name + ".log").toAbsolutePath();
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile());
        builder.environment().put("FP_AUTH", "off"); // tests of the stores, not of access control
        builder.environment().putAll(env);
        return new FpProcess(builder.start(), output);
    }

    /** Everything the process wrote to stdout and stderr so far. */
    String output() {
        try {
            return Files.readString(output);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    boolean isAlive() {
        return process.isAlive();
    }

    long pid() {
        return process.pid();
    }

    /** SIGTERM, as a supervisor stops a process. */
    void terminate() {
        process.destroy();
    }

    /** Waits up to {@code seconds} for the process to end; returns its exit status, or null if it still runs. */
    Integer waitFor(long seconds) throws InterruptedException {
        return process.waitFor(seconds, TimeUnit.SECONDS) ? process.exitValue() : null;
    }

    @Override
    public void close() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }
}
