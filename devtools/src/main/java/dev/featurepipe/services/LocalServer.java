package dev.featurepipe.services;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** One kind of server that {@link LocalServices} can check, start on loopback and stop. */
interface LocalServer {
    String name();

    String host();

    int port();

    default String address() {
        return host() + ":" + port();
    }

    /** Every port the server listens on when we start it (checked to be free first). */
    default List<Integer> ports() {
        return List.of(port());
    }

    /** True when a working server of this kind answers at {@link #address()}; fast (well under 1 s) when none does. */
    boolean answers();

    /** Executable to find on the PATH, or null when the server runs in a JVM. */
    String executable();

    /** Debian packages that provide {@link #executable()}. */
    List<String> packages();

    /** Text in the process' command (line) that tells our pid from a reused one. */
    String processHint();

    /** The server's own directory under the data dir: data, pid file, log, config. */
    Path dir();

    Path pidFile();

    Path logFile();

    /**
     * Starts the server detached from this JVM, bound to {@link #host()} only; returns once launched (not yet
     * answering). The pid file is written by the server or by this method.
     *
     * @param executable the resolved {@link #executable()}, null for JVM servers
     */
    void start(Path executable) throws IOException, InterruptedException;

    /** Runs a daemonizing launcher (output appended to the log) and checks that it exits 0. */
    static void runLauncher(List<String> command, Path dir, Path log) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(command.get(0) + " did not return within 30 s");
        }
        if (p.exitValue() != 0) {
            throw new IOException(command.get(0) + " exited with code " + p.exitValue());
        }
    }
}
