package dev.featurepipe.chaos;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One {@code fp run --roles ...} process of the pipeline under test, which the chaos run can kill, stop, continue
 * and start again under the same consumer name (so a restart resumes its own pending entries).
 */
public final class RoleProcess implements AutoCloseable {
    private final String name;
    private final List<String> command;
    private final Map<String, String> env;
    private final Path log;
    private Process process;

    /**
     * @param name the process's name, also its {@code FP_CONSUMER_NAME}
     * @param env  the FP_* settings of the process besides its consumer name
     */
    public RoleProcess(String name, String roles, Path jar, Path home, Map<String, String> env, Path logDir) {
        this.name = name;
        this.command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xms64m", "-Xmx256m",
                "-XX:+ExitOnOutOfMemoryError", "-Dfp.home=" + home, "-jar", jar.toString(), "run", "--roles", roles);
        this.env = env;
        this.log = logDir.resolve(name + ".log");
    }

    public void start() {
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().putAll(env);
        pb.environment().put("FP_CONSUMER_NAME", name);
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name + ": " + e.getMessage(), e);
        }
    }

    boolean alive() {
        return process != null && process.isAlive();
    }

    /** The process id, once started. */
    public long pid() {
        return process.pid();
    }

    /** SIGKILL: no shutdown hook runs, nothing is flushed or acknowledged. */
    void kill() throws InterruptedException {
        process.destroyForcibly().waitFor();
    }

    /** SIGSTOP: the process holds its connections and pending entries but does nothing. */
    void pause() {
        signal("STOP");
    }

    /** SIGCONT after {@link #pause()}. */
    void resume() {
        signal("CONT");
    }

    private void signal(String signal) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start();
            if (kill.waitFor() != 0) {
                throw new IllegalStateException("kill -" + signal + " " + process.pid() + " (" + name + ") failed");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while signalling " + name, e);
        }
    }

    /** SIGTERM (after SIGCONT, should it be stopped), then SIGKILL if it has not exited within 15 s. */
    @Override
    public void close() throws InterruptedException {
        if (!alive()) {
            return;
        }
        resume();
        process.destroy();
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
            kill();
        }
    }
}
