package dev.featurepipe.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * A current ClickHouse for the tests: chDB, ClickHouse 26.x as a library (the npm package {@value #PACKAGE}),
 * behind the part of ClickHouse's HTTP interface the product's client uses ({@code chdb/clickhouse-http.js}), so
 * the product's own classes run on it unchanged. The package (~570 MB unpacked, nothing fetched at install but the
 * package itself) is installed once per machine into the user's cache directory when it is missing there.
 */
final class Chdb implements AutoCloseable {
    static final String PACKAGE = "chdb@3.4.0";
    private static final Path INSTALL = cacheHome().resolve("featurepipe").resolve(PACKAGE.replace('@', '-'));
    private static final long START_SECONDS = 60;

    private final Process node;
    private final URI url;

    private Chdb(Process node, URI url) {
        this.node = node;
        this.url = url;
    }

    /** Starts chDB on an empty data directory {@code dir} (its log beside it), installing the package if needed. */
    static Chdb start(Path dir) throws IOException, InterruptedException {
        Path modules = installed();
        deleteTree(dir);
        Files.createDirectories(dir);
        ProcessBuilder command = new ProcessBuilder("node", script().toString(), dir.toString(), "0")
                .redirectError(dir.resolveSibling(dir.getFileName() + ".log").toFile());
        command.environment().put("NODE_PATH", modules.toString());
        Process node = command.start();
        CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> {
            try {
                return new BufferedReader(new InputStreamReader(node.getInputStream(), StandardCharsets.UTF_8)).readLine();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        try {
            String line = first.get(START_SECONDS, TimeUnit.SECONDS);
            if (line == null || !line.startsWith("listening ")) {
                throw new IOException("chDB did not start (" + line + "); see " + dir + ".log");
            }
            return new Chdb(node, URI.create("http://127.0.0.1:" + line.substring("listening ".length()).strip()));
        } catch (ExecutionException | TimeoutException | IOException e) {
            node.destroyForcibly();
            throw new IOException("chDB did not start within " + START_SECONDS + " s; see " + dir + ".log", e);
        }
    }

    /** The address of its HTTP interface. */
    URI url() {
        return url;
    }

    @Override
    public void close() throws InterruptedException {
        node.destroy();
        if (!node.waitFor(10, TimeUnit.SECONDS)) {
            node.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    /**
     * The package's node_modules, installed by npm when missing: into a directory of its own first, then moved into
     * place, so an interrupted install is never taken for a complete one.
     */
    private static Path installed() throws IOException, InterruptedException {
        Path modules = INSTALL.resolve("node_modules");
        if (Files.isRegularFile(modules.resolve("chdb/package.json"))) {
            return modules;
        }
        Files.createDirectories(INSTALL.getParent());
        Path staging = Files.createTempDirectory(INSTALL.getParent(), "installing-");
        long started = System.nanoTime();
        System.out.println("chdb: installing " + PACKAGE + " into " + INSTALL + " (once per machine, ~570 MB)");
        List<String> npm = List.of("npm", "install", "--no-save", "--no-audit", "--no-fund", "--no-package-lock",
                "--prefix", staging.toString(), PACKAGE);
        Process install;
        try {
            install = new ProcessBuilder(npm).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.INHERIT).start();
        } catch (IOException e) {
            throw new IOException("npm is not installed; the chDB compatibility test needs Node.js 18 or later with npm"
                    + " (e.g. sudo apt-get install -y nodejs npm)", e);
        }
        if (!install.waitFor(15, TimeUnit.MINUTES) || install.exitValue() != 0) {
            install.destroyForcibly();
            deleteTree(staging);
            throw new IOException("'" + String.join(" ", npm) + "' failed; its output is above");
        }
        deleteTree(INSTALL);
        Files.move(staging, INSTALL, StandardCopyOption.ATOMIC_MOVE);
        System.out.printf("chdb: installed %s in %.0f s%n", PACKAGE, (System.nanoTime() - started) / 1e9);
        return modules;
    }

    private static Path script() {
        try {
            return Path.of(Objects.requireNonNull(Chdb.class.getResource("/chdb/clickhouse-http.js")).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Path cacheHome() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        return xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
    }

    private static void deleteTree(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(f);
                }
            }
        }
    }
}
