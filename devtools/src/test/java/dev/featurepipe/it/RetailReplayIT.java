package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.clickhouse.ClickHouseClient;
import dev.featurepipe.config.Config;
import dev.featurepipe.demo.ReplaySummary;
import dev.featurepipe.demo.RetailReplay;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The demo's replay of the whole UCI Online Retail file, checked against counts this test takes from the file
 * itself: every row is accepted or rejected, ClickHouse holds exactly the accepted events, a second replay
 * changes no count, and a customer's profile counts its lines.
 */
@ExtendWith(TestServices.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(900)
class RetailReplayIT {
    private static final Path FILE = Path.of("../../shared/datasets/online-retail/online-retail.csv.gz");

    private Config config;
    private Pipeline pipeline;
    private RetailReplay replay;
    private RetailReplay.Options options;

    @BeforeAll
    void start() {
        config = TestServices.config("../registry/retail.yaml", Map.of(Config.OFFLINE_BATCH_INTERVAL, "500ms"));
        pipeline = Pipeline.start(config, EnumSet.allOf(Role.class), Clock.systemUTC());
        replay = new RetailReplay(new ObjectMapper(), URI.create("http://127.0.0.1:" + pipeline.httpPort()), Clock.systemUTC());
        options = new RetailReplay.Options(FILE, Long.MAX_VALUE, false, 1000, 4);
    }

    @AfterAll
    void stop() {
        pipeline.close();
        new ClickHouseClient(TestServices.CLICKHOUSE, null).execute("DROP DATABASE IF EXISTS " + config.get(Config.CLICKHOUSE_DATABASE));
    }

    /** Counts from the file with a CSV reading of its own: rows, rows with a customer, purchase lines of one. */
    private record FileCounts(long rows, long withCustomer, Map<String, Long> purchaseLines) {
    }

    @Test
    void everyRowIsCountedAndClickHouseHoldsExactlyTheAcceptedEventsEvenAfterASecondReplay() throws Exception {
        FileCounts file = countFile();
        RetailReplay.Scan scan = replay.scan(options);

        ReplaySummary first = replay.replay(options, scan, n -> { });
        TestServices.awaitConsumers(pipeline, config, Duration.ofMinutes(10));
        long rowsAfterFirst = clickhouse("SELECT count() FROM events FINAL");
        long idsAfterFirst = clickhouse("SELECT uniqExact(event_id) FROM events");
        ReplaySummary second = replay.replay(options, scan, n -> { });
        TestServices.awaitConsumers(pipeline, config, Duration.ofMinutes(10));

        assertThat(first.rowsRead()).isEqualTo(file.rows());
        assertThat(first.accepted() + first.rejected()).isEqualTo(first.rowsRead());
        assertThat(first.accepted()).isEqualTo(file.withCustomer());
        assertThat(first.duplicates()).isZero();
        assertThat(first.rejectedByReason()).containsOnlyKeys("customer_id: required: the entity key");
        assertThat(rowsAfterFirst).isEqualTo(first.accepted());
        assertThat(idsAfterFirst).isEqualTo(first.accepted());
        assertThat(second.duplicates()).isEqualTo(first.accepted());
        assertThat(clickhouse("SELECT count() FROM events FINAL")).isEqualTo(rowsAfterFirst);
        assertThat(clickhouse("SELECT count() FROM events")).isEqualTo(rowsAfterFirst);

        String customer = first.lastCustomers().get(0);
        JsonNode features = new Api(pipeline.httpPort()).get("/v1/features/customer/" + customer).body();
        assertThat(features.at("/features/lifetime_lines").asLong()).isEqualTo(file.purchaseLines().get(customer));

        // the skew check, as a user runs it, finds online and ClickHouse equal, and finds a value changed online
        List<String> clean = verify();
        assertThat(clean.get(clean.size() - 1)).matches("verify: checked=\\d+ mismatched=0");
        assertThat(Long.parseLong(clean.get(clean.size() - 1).replaceAll(".*checked=(\\d+).*", "$1"))).isGreaterThan(1000);
        // a tile changed as a write changes it: with the generation of the customer's state bumped
        String key = pipeline.stores().shards().prefixOf(customer) + ":customer:" + customer + ":@state";
        pipeline.redis().shared().sync().hincrbyfloat(key, "spend/0:0:s", 1.0);
        pipeline.redis().shared().sync().hincrby(key, "@gen", 1);
        List<String> skewed = verify();
        assertThat(skewed).anySatisfy(l -> assertThat(l).matches("\\s+spend_lifetime\\s+compared\\s+\\d+\\s+mismatched\\s+1"));
        assertThat(skewed.get(skewed.size() - 1)).endsWith("mismatched=1");
    }

    /** Runs {@code ./fp verify} on a sample holding the last customer, returning what it printed. */
    private List<String> verify() {
        return VerifyRun.run(config, 5000).lines();
    }

    private long clickhouse(String sql) {
        return Long.parseLong(pipeline.offlineTable().query(sql + " FORMAT TabSeparated").trim());
    }

    /** Splits lines on commas outside double quotes; enough for this file's quoting. */
    private static FileCounts countFile() throws IOException {
        long rows = 0;
        long withCustomer = 0;
        Map<String, Long> purchaseLines = new HashMap<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(FILE)),
                StandardCharsets.UTF_8))) {
            in.readLine();
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                String[] cells = line.split(",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", -1);
                rows++;
                String customer = cells[6].replace(".0", "");
                if (!customer.isEmpty()) {
                    withCustomer++;
                    if (!cells[0].startsWith("C")) {
                        purchaseLines.merge(customer, 1L, Long::sum);
                    }
                }
            }
        }
        return new FileCounts(rows, withCustomer, purchaseLines);
    }
}
