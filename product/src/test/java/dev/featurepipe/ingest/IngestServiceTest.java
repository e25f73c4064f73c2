package dev.featurepipe.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.auth.Access;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.EventLog;
import dev.featurepipe.core.NumberRule;
import dev.featurepipe.core.PartlyAppendedException;
import dev.featurepipe.core.UnreplicatedAppendException;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import dev.featurepipe.http.ApiException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** The answers of an append whose events are on the log's master but not on enough of its replicas. */
class IngestServiceTest {
    private static final Clock CLOCK = Clock.fixed(Instant.ofEpochMilli(1_700_000_000_000L), ZoneOffset.UTC);

    private final Registry registry = RegistryLoader.load(Path.of("../registry/retail.yaml"));
    private final SimpleMeterRegistry metrics = new SimpleMeterRegistry();

    private ApiException refused(Function<List<Event>, RuntimeException> failure) {
        EventLog log = events -> {
            throw failure.apply(events);
        };
        IngestService service = new IngestService(registry, new EventValidator(registry, new NumberRule(registry, 1e19),
                300_000), log, new ObjectMapper(), CLOCK, 100, metrics);
        // the second event is invalid and left out in partial mode: indexes in the answer are the request's
        String body = purchase("a", "c1") + "\n{\"event_id\": \"bad\"}\n" + purchase("b", "c2") + "\n" + purchase("c", "c3");
        return catchThrowableOfType(ApiException.class, () -> service.ingest(
                new ByteArrayInputStream(body.getBytes(StandardCharsets.UTF_8)), true, true, Access.ANY));
    }

    private static String purchase(String id, String customer) {
        return "{\"event_id\": \"" + id + "\", \"event_type\": \"purchase\", \"customer_id\": \"" + customer + "\","
                + " \"invoice\": \"1\", \"stock_code\": \"85123A\", \"quantity\": 6, \"unit_price\": 2.55, \"amount\": 15.3}";
    }

    private static EventLog.Appended at(String position) {
        return new EventLog.Appended(position, false);
    }

    @Test
    void eventsOnTheMasterOnlyAreA503ListingThemAsNotReplicated() {
        ApiException e = refused(events -> new UnreplicatedAppendException("3 events are appended on the Redis master"
                + " of shard 0 but not yet on 1 of its replicas", Map.of(2, at("1-0/2"), 0, at("1-0/0"), 1, at("1-0/1"))));

        assertThat(e.status()).isEqualTo(503);
        assertThat(e.headers()).containsEntry("Retry-After", "1");
        assertThat(e.getMessage()).contains("not yet on 1 of its replicas");
        assertThat(List.<Object>copyOf(e.details())).containsExactly(
                (Object) Map.of("index", 0, "event_id", "a", "position", "1-0/0", "duplicate", false, "replicated", false),
                Map.of("index", 2, "event_id", "b", "position", "1-0/1", "duplicate", false, "replicated", false),
                Map.of("index", 3, "event_id", "c", "position", "1-0/2", "duplicate", false, "replicated", false));
        assertThat(metrics.counter("featurepipe.ingest.unreplicated").count()).isEqualTo(1);
        assertThat(metrics.counter("featurepipe.ingest.events", "outcome", "unreplicated").count()).isEqualTo(3);
    }

    @Test
    void aLaterShardOnItsMasterOnlyIsListedAfterTheShardsThatWereReplicated() {
        ApiException e = refused(events -> new PartlyAppendedException("1 of 3 events were appended; shard 1 failed",
                Map.of(1, at("0:5-0/0")), new UnreplicatedAppendException("not yet on 1 of its replicas",
                Map.of(0, at("1:7-0/0")))));

        assertThat(e.status()).isEqualTo(503);
        assertThat(List.<Object>copyOf(e.details())).containsExactly(
                (Object) Map.of("index", 2, "event_id", "b", "position", "0:5-0/0", "duplicate", false),
                Map.of("index", 0, "event_id", "a", "position", "1:7-0/0", "duplicate", false, "replicated", false));
        assertThat(metrics.counter("featurepipe.ingest.partly.appended").count()).isEqualTo(1);
        assertThat(metrics.counter("featurepipe.ingest.unreplicated").count()).isEqualTo(1);
        assertThat(metrics.counter("featurepipe.ingest.events", "outcome", "accepted").count()).isEqualTo(1);
        assertThat(metrics.counter("featurepipe.ingest.events", "outcome", "unreplicated").count()).isEqualTo(1);
        assertThat(metrics.counter("featurepipe.ingest.events", "outcome", "refused").count()).isEqualTo(1);
    }
}
