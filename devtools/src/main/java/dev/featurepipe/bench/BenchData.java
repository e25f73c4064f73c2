package dev.featurepipe.bench;

import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.NumberRule;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.demo.RetailEvents;
import dev.featurepipe.demo.RetailFile;
import dev.featurepipe.demo.RetailRow;
import dev.featurepipe.ingest.EventValidator;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanIterator;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The real events the benchmarks replay, and the clean-up after them. */
final class BenchData {
    private BenchData() {
    }

    /** The first {@code count} rows of the retail file that are valid events, shifted so that the last one is now. */
    static List<Event> retailEvents(Registry registry, Path file, int count) {
        double maxAbs = Config.MAX_ABS_NUMBER.parser().apply(Config.MAX_ABS_NUMBER.defaultValue());
        EventValidator validator = new EventValidator(registry, new NumberRule(registry, maxAbs), 0);
        RetailEvents mapping = new RetailEvents(new ObjectMapper());
        List<Event> events = new ArrayList<>(count);
        long now = System.currentTimeMillis();
        try (MappingIterator<RetailRow> rows = RetailFile.open(file)) {
            for (int i = 0; rows.hasNext() && events.size() < count; i++) {
                EventValidator.Result r = validator.validate(i, mapping.event(rows.next(), 0), now);
                if (r.valid()) {
                    events.add(r.event());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + file, e);
        }
        long shift = now - events.stream().mapToLong(Event::ts).max().orElse(now);
        return events.stream().map(e -> new Event(e.id(), e.type(), e.entityId(), e.ts() + shift, e.fields())).toList();
    }

    /** Removes every key under {@code prefix}: a benchmark leaves nothing behind. */
    static void deleteKeys(RedisClusterCommands<String, String> redis, String prefix) {
        List<String> batch = new ArrayList<>();
        ScanIterator<String> keys = ScanIterator.scan(redis, ScanArgs.Builder.matches(prefix + ":*").limit(1000));
        while (keys.hasNext()) {
            batch.add(keys.next());
            if (batch.size() == 1000) {
                redis.unlink(batch.toArray(String[]::new));
                batch.clear();
            }
        }
        if (!batch.isEmpty()) {
            redis.unlink(batch.toArray(String[]::new));
        }
    }
}
