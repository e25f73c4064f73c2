package dev.featurepipe.core.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.featurepipe.core.FieldType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import dev.featurepipe.core.FieldType;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RegistryLoaderTest {
    private static final String HEAD = """
            entities:
              customer:
                key: customer_id
            events:
              purchase:
                entity: customer
                fields:
                  amount: {type: double, required: true}
                  sku: string
                  quantity: long
            """;

    @Test
    void demoRegistryLoadsWithOneServedNamePerWindow() {
        Registry registry = RegistryLoader.load(Path.of("../registry/retail.yaml"));

        assertThat(registry.served("customer")).containsKeys("lines_1h", "lines_24h", "lines_7d", "lines_90d",
                "spend_24h", "last_items", "country", "lifetime_spend");
        assertThat(registry.eventType("cancellation")).isPresent();
    }

    @Test
    void varianceAndStddevTakeANumberAndServeADouble() {
        Registry registry = RegistryLoader.parse(HEAD + """
                features:
                  - {name: spread, event: purchase, aggregation: variance, value: quantity, windows: [24h]}
                  - {name: sd, event: purchase, aggregation: stddev, value: amount * 2}
                """, "test");
        AggregateFeature sd = ((ServedFeature.WindowValue) registry.served("customer").get("sd")).feature();
        assertThat(sd.aggregation()).isEqualTo(Aggregation.STDDEV);
        assertThat(sd.resultType()).isEqualTo(FieldType.DOUBLE);
        assertThat(((ServedFeature.WindowValue) registry.served("customer").get("spread_24h")).feature().resultType())
                .isEqualTo(FieldType.DOUBLE);

        RegistryException e = catchThrowableOfType(RegistryException.class, () -> RegistryLoader.parse(HEAD + """
                features:
                  - {name: sd, event: purchase, aggregation: stddev, value: sku}
                """, "test"));
        assertThat(e.errors()).anySatisfy(err -> assertThat(err.message()).contains("stddev needs a number, but 'sku' is string"));
    }

    @Test
    void windowsGetTheDefaultTileOfTheirLength() {
        Registry registry = RegistryLoader.parse(HEAD + """
                features:
                  - {name: spend, event: purchase, aggregation: sum, value: amount, windows: [5m, 24h, 90d]}
                """, "test");

        ServedFeature.WindowValue fiveMinutes = (ServedFeature.WindowValue) registry.served("customer").get("spend_5m");
        ServedFeature.WindowValue day = (ServedFeature.WindowValue) registry.served("customer").get("spend_24h");
        ServedFeature.WindowValue quarter = (ServedFeature.WindowValue) registry.served("customer").get("spend_90d");
        assertThat(fiveMinutes.window().tile()).isEqualTo(Duration.ofMinutes(5));
        assertThat(day.window().tile()).isEqualTo(Duration.ofHours(1));
        assertThat(quarter.window().tile()).isEqualTo(Duration.ofDays(1));
        assertThat(registry.onlineRetentionMs()).isEqualTo(Duration.ofDays(91).toMillis());
    }

    @Test
    void reportsEveryErrorWithItsLine() {
        RegistryException e = catchThrowableOfType(RegistryException.class, () -> RegistryLoader.parse(HEAD + """
                features:
                  - name: spend
                    event: purchase
                    aggregation: sum
                    value: sku
                    windows: [1h]
                  - name: clicks
                    event: click
                    aggregation: count
                    windows: [1h]
                  - name: qty
                    event: purchase
                    aggregation: sum
                    value: quantity
                    windows: [90m]
                    tile: 1h
                  - name: spend
                    event: purchase
                    aggregation: median
                """, "test"));

        assertThat(e.errors()).contains(new RegistryError(15, "feature 'spend': sum needs a number, but 'sku' is string"));
        assertThat(e.errors()).anySatisfy(err -> assertThat(err.message()).contains("unknown event type 'click'"));
        assertThat(e.errors()).anySatisfy(err -> assertThat(err.message()).contains("window 90m is not a multiple of the tile 1h"));
        assertThat(e.errors()).anySatisfy(err -> assertThat(err.message()).contains("unknown aggregation 'median'"));
        assertThat(e.errors()).hasSizeGreaterThanOrEqualTo(4);
        assertThat(e.getMessage()).contains("test:line 15:");
    }

    @Test
    void expressionsFiltersAndLifetimeWindowsAreTypedAgainstTheEvent() {
        Registry registry = RegistryLoader.parse(HEAD + """
                features:
                  - name: big_spend
                    event: purchase
                    aggregation: sum
                    value: amount * quantity
                    filter: amount > 10 and sku in ('a', 'b') and not sku is null
                    windows: [1h, lifetime]
                  - {name: first_purchase, event: purchase, aggregation: first_seen}
                  - {name: skus, event: purchase, aggregation: last_n, value: sku, n: 3, distinct: true}
                profile:
                  - {name: top_amount, event: purchase, rule: max, value: amount}
                  - {name: first_sku, event: purchase, rule: set_once, value: sku}
                """, "test");

        assertThat(registry.served("customer")).containsOnlyKeys("big_spend_1h", "big_spend_lifetime", "first_purchase",
                "skus", "top_amount", "first_sku");
        ServedFeature.WindowValue spend = (ServedFeature.WindowValue) registry.served("customer").get("big_spend_lifetime");
        assertThat(spend.window().isLifetime()).isTrue();
        assertThat(spend.feature().resultType()).isEqualTo(FieldType.DOUBLE);
    }

    @Test
    void expressionMistakesAreReportedWithTheFeatureAndColumn() {
        RegistryException e = catchThrowableOfType(RegistryException.class, () -> RegistryLoader.parse(HEAD + """
                features:
                  - {name: a, event: purchase, aggregation: sum, value: sku * 2}
                  - {name: b, event: purchase, aggregation: count, filter: amount + 1}
                  - {name: c, event: purchase, aggregation: count, filter: colour = 'red'}
                  - {name: d, event: purchase, aggregation: last_n, value: sku, n: 2, windows: [1h]}
                  - {name: e, event: purchase, aggregation: count, filter: "amount > 'x'"}
                profile:
                  - {name: f, event: purchase, rule: inc, value: sku}
                """, "test"));

        assertThat(e.errors()).extracting(RegistryError::message).anySatisfy(m -> assertThat(m)
                .startsWith("feature 'a': '*' needs numbers, but 'sku' is string"));
        assertThat(e.errors()).extracting(RegistryError::message).anySatisfy(m -> assertThat(m)
                .startsWith("feature 'b': the filter must be a condition"));
        assertThat(e.errors()).extracting(RegistryError::message).anySatisfy(m -> assertThat(m)
                .contains("unknown field 'colour'").contains("(at column 1)"));
        assertThat(e.errors()).extracting(RegistryError::message).anySatisfy(m -> assertThat(m)
                .contains("last_n keeps the n latest values of all time"));
        assertThat(e.errors()).extracting(RegistryError::message).anySatisfy(m -> assertThat(m)
                .contains("cannot compare 'amount' (double) with x (string)"));
        assertThat(e.errors()).extracting(RegistryError::message).anySatisfy(m -> assertThat(m)
                .startsWith("profile field 'f': inc needs a number"));
        assertThat(e.errors()).hasSize(6);
    }

    @Test
    void duplicateServedNamesAreRejected() {
        assertThatThrownBy(() -> RegistryLoader.parse(HEAD + """
                features:
                  - {name: spend, event: purchase, aggregation: sum, value: amount, windows: [1h]}
                profile:
                  - {name: spend_1h, event: purchase, rule: set, value: amount}
                """, "test"))
                .isInstanceOf(RegistryException.class)
                .hasMessageContaining("duplicate feature name 'spend_1h'");
    }

    @Test
    void aFieldNameHasOneTypeAcrossEventTypes() {
        assertThatThrownBy(() -> RegistryLoader.parse(HEAD + """
                  refund:
                    entity: customer
                    fields:
                      amount: string
                """, "test"))
                .isInstanceOf(RegistryException.class)
                .hasMessageContaining("'amount' of event type 'refund' is string but another event type declares it double");
    }

    @Test
    void unknownKeysAndBadYamlAreExplained() {
        assertThatThrownBy(() -> RegistryLoader.parse(HEAD + "featurez: []\n", "test"))
                .hasMessageContaining("unknown key 'featurez' in the registry");
        assertThatThrownBy(() -> RegistryLoader.parse("entities: [\n", "test"))
                .hasMessageContaining("not valid YAML");
    }

    @Test
    void batchFeaturesAreServedByNameWithTheirSqlAsOfATime() {
        Registry registry = RegistryLoader.parse(HEAD + """
                features:
                  - name: spend_30d
                    kind: batch
                    entity: customer
                    type: double
                    ttl: 3d
                    sql: SELECT entity_id, sum(amount) AS value FROM {events} WHERE ts > {as_of} - 2592000000 GROUP BY entity_id
                """, "test");

        BatchFeature f = registry.batchFeatures().get(0);
        assertThat(registry.served("customer").get("spend_30d")).isEqualTo(new ServedFeature.BatchValue("spend_30d", f));
        assertThat(f.ttl()).isEqualTo(Duration.ofDays(3));
        assertThat(f.refresh()).isEqualTo(Duration.ofHours(1));
        assertThat(f.sqlAt("db.events", 1000)).isEqualTo("SELECT entity_id, sum(amount) AS value FROM "
                + "(SELECT * FROM db.events FINAL WHERE ts <= 1000 AND ingested_at <= 1000) WHERE ts > 1000 - 2592000000 GROUP BY entity_id");
    }

    @Test
    void aDecimalFieldNamesItsScaleAndItsSumsAndProfileRulesKeepIt() {
        Registry r = RegistryLoader.parse("""
                entities: {customer: {key: customer_id}}
                events:
                  purchase:
                    entity: customer
                    fields: {amount: {type: decimal, scale: 2}, n: long}
                features:
                  - {name: spend, event: purchase, aggregation: sum, value: amount, windows: [lifetime]}
                  - {name: refunded, event: purchase, aggregation: sum, value: -amount, windows: [lifetime]}
                  - {name: doubled, event: purchase, aggregation: sum, value: amount * n, windows: [lifetime]}
                  - {name: mean, event: purchase, aggregation: avg, value: amount, windows: [lifetime]}
                profile:
                  - {name: last_refund, event: purchase, rule: set, value: -amount}
                  - {name: largest_double, event: purchase, rule: max, value: amount * n}
                """, "test");
        Map<String, AggregateFeature> byName = new HashMap<>();
        r.aggregatesOf("purchase").forEach(f -> byName.put(f.name(), f));
        assertThat(byName.get("spend").resultType()).isEqualTo(FieldType.DECIMAL);
        assertThat(byName.get("spend").scale()).isEqualTo(2);
        assertThat(byName.get("spend").emptyValue()).isEqualTo(new BigDecimal("0.00"));
        assertThat(byName.get("refunded").resultType()).isEqualTo(FieldType.DECIMAL);
        assertThat(byName.get("refunded").scale()).isEqualTo(2);
        assertThat(byName.get("doubled").resultType()).as("arithmetic on a decimal is a double").isEqualTo(FieldType.DOUBLE);
        assertThat(byName.get("mean").resultType()).isEqualTo(FieldType.DOUBLE);
        assertThat(((ServedFeature.ProfileValue) r.served("customer").get("last_refund")).feature().scale()).isEqualTo(2);
        assertThat(((ServedFeature.ProfileValue) r.served("customer").get("largest_double")).feature().scale()).isZero();
    }

    @Test
    void aDecimalWithoutAScaleOrWithABadOneIsRefused() {
        RegistryException e = catchThrowableOfType(RegistryException.class, () -> RegistryLoader.parse("""
                entities: {customer: {key: customer_id}}
                events:
                  purchase:
                    entity: customer
                    fields: {a: decimal, b: {type: decimal, scale: 19}, c: {type: long, scale: 2}, d: {type: decimal, scale: x}}
                  refund:
                    entity: customer
                    fields: {b: {type: decimal, scale: 3}}
                """, "test"));
        assertThat(e.errors()).extracting(RegistryError::message)
                .anySatisfy(m -> assertThat(m).contains("field 'a' of event type 'purchase' is a decimal and needs its scale"))
                .anySatisfy(m -> assertThat(m).contains("field 'b' of event type 'purchase': scale must be a whole number from 0 to 18, not '19'"))
                .anySatisfy(m -> assertThat(m).contains("field 'c' of event type 'purchase': only a decimal takes a scale"))
                .anySatisfy(m -> assertThat(m).contains("not 'x'"))
                .anySatisfy(m -> assertThat(m).contains("has scale 3 but another event type declares it with scale"));
    }

    @Test
    void batchFeatureMistakesAreReported() {
        RegistryException e = catchThrowableOfType(RegistryException.class, () -> RegistryLoader.parse(HEAD + """
                features:
                  - {name: a, kind: batch, entity: customer, type: long, sql: SELECT entity_id, 1 AS value FROM db.events}
                  - {name: b, kind: batch, entity: shop, type: long, sql: "SELECT 1 FROM {events} WHERE x = {when}"}
                  - {name: c, kind: batch, entity: customer, type: decimal, sql: "SELECT 1 FROM {events};"}
                  - {name: d, kind: batch, entity: customer, type: long, refresh: 2d, sql: "SELECT 1 FROM {events}"}
                  - {name: e, kind: stream, entity: customer}
                  - {name: f, kind: batch, entity: customer, type: long, event: purchase, sql: "SELECT 1 FROM {events}"}
                """, "test"));

        assertThat(e.errors()).extracting(RegistryError::message).anySatisfy(m -> assertThat(m)
                        .contains("feature 'a': the sql must read the events as {events}"))
                .anySatisfy(m -> assertThat(m).contains("unknown entity 'shop'"))
                .anySatisfy(m -> assertThat(m).contains("unknown placeholder {when}"))
                .anySatisfy(m -> assertThat(m).contains("feature 'c': a batch feature is string, long, double or boolean"))
                .anySatisfy(m -> assertThat(m).contains("feature 'c': end the sql without ';' or FORMAT"))
                .anySatisfy(m -> assertThat(m).contains("refresh 2d is more than half the ttl 2d"))
                .anySatisfy(m -> assertThat(m).contains("unknown kind 'stream' (known: aggregate, batch)"))
                .anySatisfy(m -> assertThat(m).contains("unknown key 'event' in feature 'f'"));
    }

    @Test
    void featureSetsNameServedFeaturesOfOneEntity() {
        Registry registry = RegistryLoader.parse(HEAD + """
                features:
                  - {name: spend, event: purchase, aggregation: sum, value: amount, windows: [1h, 24h]}
                feature_sets:
                  fraud_v1:
                    entity: customer
                    features: [spend_24h, spend_1h]
                """, "test");

        assertThat(registry.featureSet("fraud_v1")).contains(new FeatureSet("fraud_v1", "customer", List.of("spend_24h", "spend_1h")));
        assertThat(registry.featureSet("other")).isEmpty();
    }

    @Test
    void featureSetMistakesAreReported() {
        RegistryException e = catchThrowableOfType(RegistryException.class, () -> RegistryLoader.parse(HEAD + """
                features:
                  - {name: spend, event: purchase, aggregation: sum, value: amount, windows: [1h]}
                feature_sets:
                  a: {entity: customer, features: [spend_1h, spend_2h, spend_1h]}
                  b: {entity: shop, features: [spend_1h]}
                  c: {entity: customer}
                """, "test"));

        assertThat(e.errors()).extracting(RegistryError::message)
                .anySatisfy(m -> assertThat(m).contains("feature set 'a' lists 'spend_2h', which entity 'customer' does not serve"))
                .anySatisfy(m -> assertThat(m).contains("feature set 'a' lists 'spend_1h' twice"))
                .anySatisfy(m -> assertThat(m).contains("feature set 'b' names unknown entity 'shop'"))
                .anySatisfy(m -> assertThat(m).contains("feature set 'c' needs 'features'"));
    }
}
