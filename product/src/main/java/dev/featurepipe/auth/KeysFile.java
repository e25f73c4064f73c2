package dev.featurepipe.auth;

import dev.featurepipe.config.ConfigException;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The API keys of FP_API_KEYS_FILE, read again when the file changes (looked at once a second at most, on a
 * request), so a key added or revoked takes effect without a restart. A changed file that cannot be read or holds
 * a bad line leaves the keys as they were, and says why in the log and the metrics.
 */
final class KeysFile {
    private static final Logger log = LoggerFactory.getLogger(KeysFile.class);
    private static final long LOOK_EVERY_NANOS = 1_000_000_000L;

    private final Path file;
    private final Set<String> entities;
    private final LongSupplier nanoTime;
    private final LongAdder reloaded = new LongAdder();
    private final LongAdder refused = new LongAdder();
    private volatile ApiKeys keys;
    private FileTime modified;
    private long size;
    private long lookedAt;

    /** @throws ConfigException when the file cannot give keys at start */
    KeysFile(Path file, Set<String> entities, LongSupplier nanoTime) {
        this.file = file;
        this.entities = entities;
        this.nanoTime = nanoTime;
        this.lookedAt = nanoTime.getAsLong();
        noteVersion();
        this.keys = ApiKeys.load(file, entities);
    }

    ApiKeys keys() {
        long now = nanoTime.getAsLong();
        if (now - lookedAt >= LOOK_EVERY_NANOS) {
            synchronized (this) {
                if (now - lookedAt >= LOOK_EVERY_NANOS) {
                    lookedAt = now;
                    reloadIfChanged();
                }
            }
        }
        return keys;
    }

    MeterBinder metrics() {
        return metrics -> {
            FunctionCounter.builder("featurepipe.auth.keys.reloads", reloaded, LongAdder::sum).tag("outcome", "loaded")
                    .register(metrics);
            FunctionCounter.builder("featurepipe.auth.keys.reloads", refused, LongAdder::sum).tag("outcome", "refused")
                    .register(metrics);
        };
    }

    private void reloadIfChanged() {
        FileTime before = modified;
        long sizeBefore = size;
        noteVersion();
        if (Objects.equals(before, modified) && sizeBefore == size) {
            return;
        }
        try {
            keys = ApiKeys.load(file, entities);
            reloaded.increment();
            log.info("auth: FP_API_KEYS_FILE changed; read again");
        } catch (ConfigException e) {
            refused.increment();
            log.error("auth: FP_API_KEYS_FILE changed but cannot be used; the keys read before stay: {}", e.getMessage());
        }
    }

    private void noteVersion() {
        try {
            modified = Files.getLastModifiedTime(file);
            size = Files.size(file);
        } catch (IOException e) {
            modified = null;
            size = -1;
        }
    }
}
