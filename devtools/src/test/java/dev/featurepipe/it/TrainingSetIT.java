package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.clickhouse.ClickHouseEventTable;
import dev.featurepipe.config.Config;
import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.export.TrainingSetExport;
import dev.featurepipe.it.PropertyModel.Tx;
import dev.featurepipe.verify.SkewCheck;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training sets are point-in-time correct: labels placed at random times and just before, at and just after
 * events get, for every feature, exactly the value the window semantics give from the events up to that time.
 */
@ExtendWith(TestServices.class)
@Timeout(300)
class TrainingSetIT {
    private static final long NOW = Instant.parse("2026-07-01T12:00:00Z").toEpochMilli();

    @Test
    void everyLabelSeesExactlyTheEventsUpToItsTime(@TempDir Path dir) throws Exception {
        Config config = TestServices.config("src/test/resources/registry/property.yaml", Map.of());
        Registry registry = RegistryLoader.load(Path.of("src/test/resources/registry/property.yaml"));
        ClickHouseClient server = new ClickHouseClient(config.get(Config.CLICKHOUSE_URL), null);
        ClickHouseEventTable events = new ClickHouseEventTable(server, config.get(Config.CLICKHOUSE_DATABASE), registry);
        events.ensureSchema();
        try {
            Random random = new Random(7);
            String run = UUID.randomUUID().toString().substring(0, 8);
            List<String> users = new ArrayList<>();
            for (int i = 0; i < 60; i++) {
                users.add(run + "-" + i);
            }
            List<Tx> sent = PropertyModel.generate(random, users, NOW, NOW);
            events.insert(LoggedEvent.asHistory(sent.stream().map(Tx::event).toList()));

            StringBuilder labels = new StringBuilder("user_id,ts,label\n");
            List<String[]> expectedRows = new ArrayList<>();
            for (String user : users) {
                List<Long> times = new ArrayList<>(List.of(NOW - random.nextInt((int) (30 * PropertyModel.HOUR)), NOW + PropertyModel.HOUR));
                sent.stream().filter(e -> e.user().equals(user)).limit(3).forEach(e -> times.addAll(List.of(e.ts() - 1, e.ts(), e.ts() + 1)));
                for (long t : times) {
                    labels.append(user).append(',').append(t).append(',').append(random.nextBoolean() ? 1 : 0).append('\n');
                    expectedRows.add(new String[] {user, Long.toString(t)});
                }
            }
            Path labelFile = dir.resolve("labels.csv");
            Path out = dir.resolve("training.csv");
            Files.writeString(labelFile, labels);

            TrainingSetExport.Summary summary = new TrainingSetExport(registry, server.withDatabase(config.get(Config.CLICKHOUSE_DATABASE)),
                    new ObjectMapper()).export(labelFile, "user", List.of(), out, n -> { });

            List<ServedFeature.WindowValue> features = registry.served("user").values().stream()
                    .map(ServedFeature.WindowValue.class::cast).toList();
            List<Map<String, String>> rows = readCsv(out);
            assertThat(summary.rows()).isEqualTo(expectedRows.size());
            assertThat(rows).hasSize(expectedRows.size());
            List<String> mismatches = new ArrayList<>();
            ObjectMapper json = new ObjectMapper();
            for (int i = 0; i < rows.size(); i++) {
                Map<String, String> row = rows.get(i);
                String user = row.get("user_id");
                long t = Long.parseLong(row.get("ts"));
                assertThat(user).isEqualTo(expectedRows.get(i)[0]);
                List<Tx> mine = sent.stream().filter(e -> e.user().equals(user)).toList();
                for (ServedFeature.WindowValue f : features) {
                    Object expected = PropertyModel.reference(f, mine, t);
                    Object actual = parse(json, f, row.get(f.name()));
                    if (!PropertyModel.same(expected, actual)) {
                        mismatches.add(f.name() + " of " + user + " at " + t + ": reference " + expected + ", training set " + actual);
                    }
                }
            }
            System.out.printf("training set: %d labels x %d features, %d mismatched%n", rows.size(), features.size(), mismatches.size());
            assertThat(mismatches).isEmpty();
        } finally {
            server.execute("DROP DATABASE IF EXISTS " + config.get(Config.CLICKHOUSE_DATABASE));
        }
    }

    private static Object parse(ObjectMapper json, ServedFeature.WindowValue f, String cell) throws Exception {
        if (cell == null || cell.isEmpty()) {
            return null;
        }
        if (cell.startsWith("[")) {
            JsonNode list = json.readTree(cell);
            return SkewCheck.typed(f.feature(), list);
        }
        FieldType type = f.feature().resultType();
        return switch (type) {
            case LONG -> Long.parseLong(cell);
            case DOUBLE -> Double.parseDouble(cell);
            case BOOLEAN -> Boolean.parseBoolean(cell);
            case STRING -> cell;
            case DECIMAL -> new BigDecimal(cell);
        };
    }

    private static List<Map<String, String>> readCsv(Path file) throws Exception {
        try (MappingIterator<Map<String, String>> it = new CsvMapper().readerForMapOf(String.class)
                .with(CsvSchema.emptySchema().withHeader()).readValues(file.toFile())) {
            return it.readAll();
        }
    }
}
