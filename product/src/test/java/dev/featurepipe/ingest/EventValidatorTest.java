package dev.featurepipe.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.core.FieldError;
import dev.featurepipe.core.NumberRule;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class EventValidatorTest {
    private static final long NOW = 1_700_000_000_000L;
    private static final long SKEW = 300_000;

    private final ObjectMapper json = new ObjectMapper();
    private final Registry registry = RegistryLoader.load(Path.of("../registry/retail.yaml"));
    private final EventValidator validator = new EventValidator(registry, new NumberRule(registry, 1e19), SKEW);

    private EventValidator.Result validate(String event) throws Exception {
        JsonNode node = json.readTree(event);
        return validator.validate(3, node, NOW);
    }

    private static String purchase(String extra) {
        return "{\"event_id\": \"e1\", \"event_type\": \"purchase\", \"customer_id\": \"17850\", \"invoice\": \"536365\","
                + " \"stock_code\": \"85123A\", \"quantity\": 6, \"unit_price\": 2.55, \"amount\": 15.3" + extra + "}";
    }

    @Test
    void aValidEventIsTypedByTheRegistry() throws Exception {
        EventValidator.Result r = validate(purchase(", \"ts\": " + (NOW - 1000) + ", \"country\": \"France\""));

        assertThat(r.errors()).isEmpty();
        assertThat(r.event().entityId()).isEqualTo("17850");
        assertThat(r.event().ts()).isEqualTo(NOW - 1000);
        assertThat(r.event().field("quantity")).isEqualTo(6L);
        assertThat(r.event().field("unit_price")).isEqualTo(2.55);
        assertThat(r.event().field("country")).isEqualTo("France");
    }

    @Test
    void aDecimalIsTakenExactlyAtItsScaleFromANumberOrAString() throws Exception {
        assertThat(validate(purchase("")).event().field("amount")).isEqualTo(new BigDecimal("15.30"));
        assertThat(validate(purchase("").replace("15.3", "\"0.1\"")).event()
                .field("amount")).isEqualTo(new BigDecimal("0.10"));
        assertThat(validate(purchase("").replace("15.3", "12345678901234567.80")).errors()).singleElement()
                .satisfies(e -> assertThat(e.reason()).startsWith("has more than 18 digits"));
    }

    @Test
    void aNumberThatIsNotFiniteAsADoubleOrBeyondTheBoundIsRefusedByTheNumberRule() throws Exception {
        ObjectMapper exactFloats = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS); // as ingest reads
        for (ObjectMapper mapper : List.of(json, exactFloats)) {
            EventValidator.Result r = validator.validate(3, mapper.readTree(purchase("").replace("2.55", "1e400")), NOW);
            assertThat(r.valid()).isFalse();
            assertThat(r.errors()).singleElement().satisfies(e -> {
                assertThat(e.field()).isEqualTo("unit_price");
                assertThat(e.reason()).isEqualTo("is not a finite number as a double (Infinity)");
            });
        }
        assertThat(validate(purchase("").replace("2.55", "-2e19")).errors()).singleElement()
                .satisfies(e -> assertThat(e.reason()).contains("beyond the largest magnitude allowed, 1.0E19"));
        assertThat(validate(purchase("").replace("2.55", "-1e19")).errors()).isEmpty();
    }

    @Test
    void aDecimalWithAHugeExponentIsRefusedWithoutExpandingIt() throws Exception {
        for (String amount : List.of("\"1e999999999\"", "\"-1e999999999\"", "\"1e19\"")) {
            assertThat(validate(purchase("").replace("15.3", amount)).errors()).as(amount).singleElement()
                    .satisfies(e -> assertThat(e.reason()).startsWith("has more than 18 digits"));
        }
        assertThat(validate(purchase("").replace("15.3", "\"1e-999999999\"")).errors()).singleElement()
                .satisfies(e -> assertThat(e.reason()).startsWith("has more than 2 digits after the point (1e-999999999)"));
    }

    @Test
    void idsWithControlCharactersOrLoneSurrogatesAreRefused() throws Exception {
        for (String id : List.of("a\\u0000b", "\\u001b[31m", "a\\nb", "a\\u0085b", "a\\u2028b", "\\ud800", "a\\udfffb", " ")) {
            EventValidator.Result r = validate(purchase("").replace("\"e1\"", "\"" + id + "\"").replace("\"17850\"", "\"" + id + "\""));
            assertThat(r.errors()).as(id).extracting(FieldError::field).containsExactly("event_id", "customer_id");
        }
        assertThat(validate(purchase("").replace("\"e1\"", "\"\\ud83d\\ude00\"")).errors()).isEmpty(); // a pair is fine
    }

    @Test
    void aDecimalWithMoreDigitsThanItsScaleIsRefusedNotRounded() throws Exception {
        EventValidator.Result r = validate(purchase("").replace("15.3", "249.445"));
        assertThat(r.errors()).singleElement().satisfies(e -> {
            assertThat(e.field()).isEqualTo("amount");
            assertThat(e.reason()).isEqualTo("has more than 2 digits after the point (249.445); the registry declares scale 2");
        });
        assertThat(validate(purchase("").replace("15.3", "\"12,50\"")).errors()).singleElement()
                .satisfies(e -> assertThat(e.reason()).isEqualTo("expected decimal, got string \"12,50\""));
    }

    @Test
    void everyProblemIsReportedWithIndexFieldAndReason() throws Exception {
        EventValidator.Result r = validate("{\"event_id\": \"e1\", \"event_type\": \"purchase\", \"invoice\": 536365,"
                + " \"stock_code\": \"X\", \"quantity\": 1.5, \"unit_price\": 1, \"amount\": 1, \"colour\": \"red\"}");

        assertThat(r.valid()).isFalse();
        assertThat(r.errors()).extracting(FieldError::field).containsExactlyInAnyOrder("customer_id", "invoice", "quantity", "colour");
        assertThat(r.errors()).allSatisfy(e -> assertThat(e.index()).isEqualTo(3));
        assertThat(r.errors()).anySatisfy(e -> assertThat(e.reason()).isEqualTo("expected long, got number 1.5"));
        assertThat(r.errors()).anySatisfy(e -> assertThat(e.reason()).startsWith("not declared for event type 'purchase'"));
    }

    @Test
    void unknownEventTypeIsNamed() throws Exception {
        EventValidator.Result r = validate("{\"event_id\": \"e1\", \"event_type\": \"refund\", \"customer_id\": \"1\"}");

        assertThat(r.errors()).singleElement().satisfies(e -> {
            assertThat(e.field()).isEqualTo("event_type");
            assertThat(e.reason()).contains("unknown event type 'refund'");
        });
    }

    @Test
    void aTimeTooFarInTheFutureIsRejectedAndOneWithinTheSkewBecomesNow() throws Exception {
        EventValidator.Result far = validate(purchase(", \"ts\": " + (NOW + SKEW + 1)));
        EventValidator.Result near = validate(purchase(", \"ts\": " + (NOW + SKEW)));

        assertThat(far.errors()).singleElement().satisfies(e -> assertThat(e.reason()).contains("in the future"));
        assertThat(near.event().ts()).isEqualTo(NOW);
    }

    @Test
    void isoTimesAndMissingTimesAreAccepted() throws Exception {
        assertThat(validate(purchase(", \"ts\": \"2023-11-14T22:13:19Z\"")).event().ts()).isEqualTo(1_699_999_999_000L);
        assertThat(validate(purchase("")).event().ts()).isEqualTo(NOW);
        assertThat(validate(purchase(", \"ts\": \"yesterday\"")).errors()).singleElement()
                .satisfies(e -> assertThat(e.field()).isEqualTo("ts"));
    }

    @Test
    void aTimeOutOfRangeIsAFieldErrorNotAFailure() throws Exception {
        assertThat(validate(purchase(", \"ts\": \"+999999999-12-31T23:59:59Z\"")).errors()).singleElement()
                .satisfies(e -> assertThat(e.reason()).startsWith("out of range"));
    }

    @Test
    void fieldNamesAClientMadeUpShareOneMetricTag() {
        assertThat(validator.metricName("quantity")).isEqualTo("quantity");
        assertThat(validator.metricName("customer_id")).isEqualTo("customer_id");
        assertThat(validator.metricName("x-" + System.nanoTime())).isEqualTo("_undeclared");
    }

    @Test
    void aNonObjectIsRejected() throws Exception {
        assertThat(validate("[1]").errors()).singleElement().satisfies(e -> assertThat(e.field()).isEqualTo("$"));
    }
}
