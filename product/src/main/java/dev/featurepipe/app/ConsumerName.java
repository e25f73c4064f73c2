package dev.featurepipe.app;

import dev.featurepipe.config.Config;
import dev.featurepipe.core.FeaturepipeException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The name a process goes by in the stream's groups and in the materialize claims. {@code FP_CONSUMER_NAME} when
 * set; otherwise {@code <host name>-<n>}, n the lowest slot whose lock file in the temporary directory no other
 * process of this host holds. The lock goes with the process, so a process restarted alone gets its slot, and its
 * pending entries, back, while two processes of one host never share a name.
 */
public final class ConsumerName implements AutoCloseable {
    static final String LOCK_PREFIX = "featurepipe-consumer-";
    private static final int MAX_SLOTS = 1000;

    private final String name;
    private final FileChannel channel;

    private ConsumerName(String name, FileChannel channel) {
        this.name = name;
        this.channel = channel;
    }

    /** The configured name, or the first free slot of this host, held until {@link #close}. */
    public static ConsumerName of(Config config) {
        String configured = config.get(Config.CONSUMER_NAME);
        if (!configured.isEmpty()) {
            return new ConsumerName(configured, null);
        }
        String host = hostName();
        Path dir = Path.of(System.getProperty("java.io.tmpdir"));
        for (int slot = 1; slot <= MAX_SLOTS; slot++) {
            FileChannel channel = lock(dir.resolve(LOCK_PREFIX + slot + ".lock"));
            if (channel != null) {
                return new ConsumerName(host + "-" + slot, channel);
            }
        }
        throw new FeaturepipeException("no free consumer name slot among " + MAX_SLOTS + " in " + dir
                + "; set FP_CONSUMER_NAME");
    }

    /** The channel holding the file's lock, or null when another process (or another pipeline here) holds it. */
    private static FileChannel lock(Path file) {
        FileChannel channel = null;
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock != null) {
                return channel;
            }
        } catch (OverlappingFileLockException | IOException e) {
            // held by this JVM already, or a file of another user: not ours
        }
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                // nothing held
            }
        }
        return null;
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "featurepipe";
        }
    }

    public String name() {
        return name;
    }

    @Override
    public void close() {
        if (channel != null) {
            try {
                channel.close(); // releases the lock
            } catch (IOException e) {
                // the lock goes with the channel either way
            }
        }
    }
}
