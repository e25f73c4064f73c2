package dev.featurepipe.services;

import dev.featurepipe.config.Config;
import dev.featurepipe.core.Durations;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs Redis (one server, or a {@link RedisClusterSpec Redis Cluster}), ClickHouse and MongoDB (a stand-in) on
 * loopback for development, the demo and integration tests.
 *
 * <p>{@link #up()} uses whatever already answers at an address as is; otherwise it installs the server if needed
 * (apt, as root), starts it as a daemon with everything under {@code dataDir/<service>/} and waits until it
 * answers. {@link #down()} stops only servers whose pid file in the data dir names a live process of that kind,
 * i.e. ones {@code up()} started, the nodes of any Redis Cluster in {@code dataDir/redis-cluster/} included.
 * Servers survive the JVM that started them.
 */
public final class LocalServices {
    private static final Logger log = LoggerFactory.getLogger(LocalServices.class);
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(15);
    private static final int LOG_TAIL_LINES = 20;
    private static final String CLUSTER = "redis-cluster";
    private static final String STATUS_LINE = "%-14s  %-20s  %-9s  %s%n";
    private static final String PRINT_LINE = "%-14s  %-20s  %s%n";

    private final List<LocalServer> servers;
    private final RedisClusterLocal cluster;
    private final Path clusterDir;
    private final String redisFsync;
    private final PrintStream out;
    private boolean aptUpdated;

    public LocalServices(ServiceAddresses addresses, Path dataDir, PrintStream out) {
        this(addresses, Config.LOCAL_REDIS_FSYNC.defaultValue(), dataDir, out);
    }

    /** @param redisFsync the {@code appendfsync} of a Redis this starts: {@code everysec} or {@code always} */
    public LocalServices(ServiceAddresses addresses, String redisFsync, Path dataDir, PrintStream out) {
        this(addresses, redisFsync, null, dataDir, out);
    }

    /**
     * @param redisCluster null: one Redis at the address of {@code addresses}; else a Redis Cluster of this shape
     *                     instead (the Redis address is not used)
     */
    public LocalServices(ServiceAddresses addresses, String redisFsync, RedisClusterSpec redisCluster, Path dataDir,
            PrintStream out) {
        this(addresses, redisFsync, redisCluster, LocalClickHouseCluster.SINGLE, dataDir, out);
    }

    /** @param clickhouse one ClickHouse server, or several as one cluster from the configured ports on */
    public LocalServices(ServiceAddresses addresses, String redisFsync, RedisClusterSpec redisCluster,
            LocalClickHouseCluster clickhouse, Path dataDir, PrintStream out) {
        this(Objects.requireNonNull(addresses, "addresses"), redisCluster, clickhouse, redisFsync, dataDir, out);
    }

    /** A Redis Cluster of this shape alone, as integration tests of the Redis adapter use it. */
    public static LocalServices redisCluster(RedisClusterSpec spec, String redisFsync, Path dataDir, PrintStream out) {
        return new LocalServices(null, Objects.requireNonNull(spec, "spec"), LocalClickHouseCluster.SINGLE, redisFsync,
                dataDir, out);
    }

    /** @param addresses null: the Redis Cluster alone */
    private LocalServices(ServiceAddresses addresses, RedisClusterSpec redisCluster, LocalClickHouseCluster clickhouse,
            String redisFsync, Path dataDir, PrintStream out) {
        Path dir = dataDir.toAbsolutePath().normalize();
        this.clusterDir = dir.resolve(CLUSTER);
        this.redisFsync = redisFsync;
        this.cluster = redisCluster == null ? null : new RedisClusterLocal(redisCluster, redisFsync, clusterDir);
        List<LocalServer> list = new ArrayList<>();
        if (cluster != null) {
            list.addAll(cluster.nodes());
        } else {
            list.add(new RedisLocal(addresses.redisUrl(), redisFsync, dir.resolve("redis")));
        }
        if (addresses != null) {
            list.addAll(clickhouse.servers(addresses.clickhouseUrl(), addresses.clickhouseTcpPort(), dir));
            list.add(new MongoLocal(addresses.mongoUri(), dir.resolve("mongo")));
        }
        this.servers = List.copyOf(list);
        this.out = out;
    }

    /**
     * Makes all services answer, starting those that do not, and the nodes of a Redis Cluster one healthy cluster;
     * idempotent.
     *
     * @return the names of the servers this call started (a cluster node's is {@code redis-<port>})
     */
    public List<String> up() {
        aptUpdated = false;
        List<String> started = new ArrayList<>();
        try {
            for (LocalServer s : servers) {
                if (up(s)) {
                    started.add(s.name());
                }
            }
            if (cluster != null) {
                Path redisCli = findExecutable("redis-cli").orElseThrow(() -> new ServiceException(
                        "redis-cli is not installed; install it with:\n  sudo apt-get install -y redis-tools"));
                print(CLUSTER, cluster.addresses(), cluster.form(redisCli, START_TIMEOUT));
            }
        } catch (RuntimeException e) {
            down(started); // none of this call's servers is left running when it fails
            throw e;
        }
        return started;
    }

    /** {@code redis-cluster://host:port,...} of the Redis Cluster, the nodes created as masters as seeds. */
    public Optional<String> redisClusterUrl() {
        return Optional.ofNullable(cluster).map(RedisClusterLocal::url);
    }

    /**
     * Stops the servers {@link #up()} started (and only those), with the nodes of every Redis Cluster in the data
     * dir; idempotent.
     */
    public void down() {
        down(known().stream().map(LocalServer::name).toList());
    }

    /**
     * Stops those of the named servers that {@link #up()} started, e.g. the ones one call of it started, in the
     * reverse order of up: a server before the one it needs (a ClickHouse before its ZooKeeper).
     */
    public void down(Collection<String> names) {
        List<LocalServer> known = known();
        for (int i = known.size() - 1; i >= 0; i--) {
            if (names.contains(known.get(i).name())) {
                down(known.get(i));
            }
        }
    }

    /** The directory whose {@code *.xml} files the local ClickHouse merges into its users (see ClickHouseLocal). */
    public Path clickhouseUsersDir() {
        return servers.stream().filter(ClickHouseLocal.class::isInstance).map(ClickHouseLocal.class::cast)
                .findFirst().orElseThrow().usersDir();
    }

    /**
     * Kills (SIGKILL) the named server that {@link #up()} started, as a crash would: no shutdown, no final fsync.
     * The next {@code up()} starts it again on the data it left.
     *
     * @return whether a server of ours was running and is gone
     */
    public boolean kill(String name) {
        for (LocalServer s : known()) {
            if (s.name().equals(name)) {
                Optional<ProcessHandle> p = managed(s);
                p.ifPresent(ProcessHandle::destroyForcibly);
                return p.isPresent() && awaitExit(p.get(), STOP_TIMEOUT);
            }
        }
        throw new IllegalArgumentException("no local server named " + name);
    }

    /**
     * Checks each service (the nodes of every Redis Cluster in the data dir included) and prints one aligned line
     * per service, then one for the Redis Cluster's health.
     */
    public List<ServiceStatus> status() {
        List<ServiceStatus> result = new ArrayList<>();
        out.printf(STATUS_LINE, "SERVICE", "ADDRESS", "ANSWERING", "MANAGED");
        for (LocalServer s : known()) {
            boolean answering = s.answers();
            Long pid = managedPid(s);
            result.add(new ServiceStatus(s.name(), s.address(), answering, pid));
            String managed = pid != null ? "pid " + pid : answering ? "external" : "-";
            out.printf(STATUS_LINE, s.name(), s.address(), answering ? "yes" : "no", managed);
        }
        if (cluster != null) {
            print(CLUSTER, cluster.addresses(), cluster.problem().map(p -> "not healthy: " + p)
                    .orElse("healthy, " + cluster.describe() + ", " + cluster.url()));
        }
        return result;
    }

    /**
     * The servers of this configuration, then the nodes of any other Redis Cluster with a directory in the data
     * dir, so that {@link #down()} and {@link #status()} find every cluster node that {@link #up()} started.
     */
    private List<LocalServer> known() {
        List<LocalServer> all = new ArrayList<>(servers);
        if (!Files.isDirectory(clusterDir)) {
            return all;
        }
        Set<String> names = servers.stream().map(LocalServer::name).collect(Collectors.toSet());
        // only stopped or shown, never started: the node timeout does not matter
        Duration nodeTimeout = Durations.parse(Config.LOCAL_REDIS_CLUSTER_NODE_TIMEOUT.defaultValue());
        try (Stream<Path> dirs = Files.list(clusterDir)) {
            dirs.map(d -> d.getFileName().toString()).filter(n -> n.matches("[0-9]{1,5}")).map(Integer::parseInt)
                    .sorted()
                    .map(port -> RedisClusterLocal.node(port, redisFsync, nodeTimeout, clusterDir))
                    .filter(node -> !names.contains(node.name()))
                    .forEach(all::add);
        } catch (IOException e) {
            log.debug("cannot list {}", clusterDir, e);
        }
        return all;
    }

    /** @return whether this call started the server */
    private boolean up(LocalServer s) {
        Long pid = managedPid(s);
        if (s.answers()) {
            print(s, pid != null ? "already running (pid " + pid + ")" : "already answering, used as is");
            return false;
        }
        if (pid != null) { // ours and alive but not answering yet: still starting (or hung)
            awaitAnswer(s);
            print(s, "running (pid " + pid + ")");
            return false;
        }
        requireLoopback(s);
        requireFreePorts(s);
        Path executable = null;
        if (s.executable() != null) {
            executable = findExecutable(s.executable()).orElseGet(() -> install(s));
            if (s.answers()) { // some packages start their service on install
                print(s, "answering after install, used as is");
                return false;
            }
        }
        long t0 = System.nanoTime();
        try {
            Files.createDirectories(s.dir());
            Files.deleteIfExists(s.pidFile()); // stale: its process is gone (managedPid was null)
            log.debug("starting {} in {}", s.name(), s.dir());
            s.start(executable);
        } catch (IOException e) {
            throw failure(s, "could not be started (" + e.getMessage() + ")", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ServiceException("interrupted while starting " + s.name(), e);
        }
        try {
            awaitAnswer(s);
        } catch (ServiceException e) {
            down(s); // started but not answering: not left behind
            throw e;
        }
        print(s, String.format(Locale.ROOT, "started (pid %s) in %.1f s, data and log in %s",
                managedPid(s), (System.nanoTime() - t0) / 1e9, s.dir()));
        return true;
    }

    private void down(LocalServer s) {
        ProcessHandle p = managed(s).orElse(null);
        if (p == null) {
            deleteQuietly(s.pidFile()); // stale or absent
            print(s, s.answers() ? "not started by us, left running" : "not running");
            return;
        }
        long pid = p.pid();
        long t0 = System.nanoTime();
        p.destroy(); // SIGTERM: Redis fsyncs its AOF, ClickHouse and the H2 store shut down cleanly
        String how = "stopped";
        if (!awaitExit(p, STOP_TIMEOUT)) {
            p.destroyForcibly();
            awaitExit(p, Duration.ofSeconds(5));
            how = "killed (no exit within " + STOP_TIMEOUT.toSeconds() + " s of SIGTERM)";
        }
        deleteQuietly(s.pidFile());
        print(s, String.format(Locale.ROOT, "%s (pid %d) in %.1f s", how, pid, (System.nanoTime() - t0) / 1e9));
    }

    /** The pid in the service's pid file if that process is alive and is that kind of server, else null. */
    private static Long managedPid(LocalServer s) {
        return managed(s).map(ProcessHandle::pid).orElse(null);
    }

    private static Optional<ProcessHandle> managed(LocalServer s) {
        Long pid = readPid(s.pidFile());
        return pid == null ? Optional.empty()
                : ProcessHandle.of(pid).filter(LocalServices::running).filter(p -> isOurs(p, s));
    }

    /**
     * The process is that kind of server and is older than its pid file: a process started after the pid file
     * was written got a reused pid (ours died without removing its file) and is not ours to stop.
     */
    private static boolean isOurs(ProcessHandle p, LocalServer s) {
        ProcessHandle.Info info = p.info();
        try {
            Instant written = Files.getLastModifiedTime(s.pidFile()).toInstant();
            // startInstant is derived from the boot time in whole seconds: allow some slack
            if (info.startInstant().filter(started -> started.isAfter(written.plusSeconds(2))).isPresent()) {
                return false;
            }
        } catch (IOException e) {
            return false;
        }
        if (info.command().isEmpty() && info.commandLine().isEmpty()) {
            return true; // not visible to us; trust the pid file
        }
        return info.command().filter(c -> c.contains(s.processHint())).isPresent()
                || info.commandLine().filter(c -> c.contains(s.processHint())).isPresent();
    }

    private static Long readPid(Path pidFile) {
        try {
            return Long.parseLong(Files.readString(pidFile).trim());
        } catch (IOException | NumberFormatException e) {
            return null; // absent, or being written
        }
    }

    private void awaitAnswer(LocalServer s) {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (!s.answers()) {
            Long pid = readPid(s.pidFile());
            if (pid != null && ProcessHandle.of(pid).filter(LocalServices::running).isEmpty()) {
                throw failure(s, "exited while starting", null);
            }
            if (System.nanoTime() > deadline) {
                throw failure(s, "did not answer within " + START_TIMEOUT.toSeconds() + " s", null);
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ServiceException("interrupted while waiting for " + s.name(), e);
            }
        }
    }

    /** Polls: onExit() of a process that is not our child polls too, but with a coarse, growing interval. */
    private static boolean awaitExit(ProcessHandle p, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (running(p) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return !running(p);
    }

    /**
     * Alive and not a zombie. A daemon's parent is pid 1, and where that is no real init (some containers and VMs)
     * an exited daemon stays a zombie until it gets reaped, seconds later; isAlive() counts a zombie as alive.
     */
    static boolean running(ProcessHandle p) {
        if (!p.isAlive()) {
            return false;
        }
        try {
            String stat = Files.readString(Path.of("/proc", String.valueOf(p.pid()), "stat"));
            int afterName = stat.lastIndexOf(')'); // "pid (comm) S ...", comm may hold spaces and parentheses
            return afterName < 0 || afterName + 2 >= stat.length() || stat.charAt(afterName + 2) != 'Z';
        } catch (IOException e) {
            return p.isAlive(); // no procfs (or it just went away)
        }
    }

    private static void requireLoopback(LocalServer s) {
        InetAddress address = null;
        try {
            address = s.port() > 0 ? InetAddress.getByName(s.host()) : null;
        } catch (IOException e) {
            log.debug("cannot resolve {}", s.host(), e);
        }
        if (!(address instanceof Inet4Address) || !address.isLoopbackAddress()) {
            throw new ServiceException(String.format(
                    "nothing answers as %s at %s, and a local %s can only be started on an IPv4 loopback address"
                            + " (like 127.0.0.1); start it yourself or point the address at 127.0.0.1",
                    s.name(), s.address(), s.name()));
        }
    }

    private static void requireFreePorts(LocalServer s) {
        for (int port : s.ports()) {
            try (ServerSocket probe = new ServerSocket()) {
                probe.bind(new InetSocketAddress(s.host(), port));
            } catch (IOException e) {
                throw new ServiceException(String.format("cannot start %s: port %s:%d is taken by something that"
                        + " does not answer as %s (%s); free it or choose other ports",
                        s.name(), s.host(), port, s.name(), e.getMessage()));
            }
        }
    }

    private static Optional<Path> findExecutable(String name) {
        if (name.startsWith("/")) { // a file of a package, not on the PATH
            return Optional.of(Path.of(name)).filter(Files::isExecutable);
        }
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        // Debian puts clickhouse-server in /usr/sbin, which is not on a normal user's PATH.
        return Stream.concat(Stream.of(path.split(":")), Stream.of("/usr/local/sbin", "/usr/sbin", "/sbin"))
                .filter(d -> !d.isEmpty())
                .map(d -> Path.of(d, name))
                .filter(Files::isExecutable)
                .findFirst();
    }

    private Path install(LocalServer s) {
        String packages = String.join(" ", s.packages());
        if (!isRoot()) {
            throw new ServiceException(s.executable() + " is not installed; install it with:\n"
                    + "  sudo apt-get install -y " + packages);
        }
        print(s, s.executable() + " is not installed; installing " + packages);
        if (!aptUpdated) {
            run(List.of("apt-get", "update"));
            aptUpdated = true;
        }
        List<String> install = new ArrayList<>(List.of("apt-get", "install", "-y"));
        install.addAll(s.packages());
        run(install);
        return findExecutable(s.executable()).orElseThrow(() -> new ServiceException(
                "apt-get installed " + packages + " but " + s.executable() + " is still not found"));
    }

    /** Runs an apt-get command non-interactively, streaming its output. */
    private void run(List<String> command) {
        out.println("$ DEBIAN_FRONTEND=noninteractive " + String.join(" ", command));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
        try {
            Process p = pb.start();
            try (BufferedReader r = p.inputReader(StandardCharsets.UTF_8)) {
                r.lines().forEach(line -> out.println("  " + line));
            }
            int rc = p.waitFor();
            if (rc != 0) {
                throw new ServiceException(String.join(" ", command) + " failed with exit code " + rc);
            }
        } catch (IOException e) {
            throw new ServiceException("cannot run " + String.join(" ", command) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ServiceException("interrupted while running " + String.join(" ", command), e);
        }
    }

    private static boolean isRoot() {
        try {
            return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (IOException | UnsupportedOperationException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    private static ServiceException failure(LocalServer s, String what, Throwable cause) {
        return new ServiceException(String.format("%s on %s %s; log %s, last lines:%n%s",
                s.name(), s.address(), what, s.logFile(), tail(s.logFile(), LOG_TAIL_LINES)), cause);
    }

    /** The last lines of a possibly large log file (reads at most its last 16 KiB). */
    static String tail(Path file, int lines) {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long start = Math.max(0, f.length() - 16 * 1024);
            byte[] buf = new byte[(int) (f.length() - start)];
            f.seek(start);
            f.readFully(buf);
            List<String> all = new String(buf, StandardCharsets.UTF_8).lines().toList();
            return String.join(System.lineSeparator(), all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "  (no log: " + e.getMessage() + ")";
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            log.debug("cannot delete {}", file, e);
        }
    }

    private void print(LocalServer s, String message) {
        print(s.name(), s.address(), message);
    }

    private void print(String name, String address, String message) {
        out.printf(PRINT_LINE, name, address, message);
    }
}
