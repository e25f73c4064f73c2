package dev.featurepipe.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.RegistryLoader;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NumberRuleTest {
    private static final Registry REGISTRY = RegistryLoader.parse("""
            entities:
              customer:
                key: customer_id
            events:
              purchase:
                entity: customer
                fields:
                  amount:   {type: double, required: true}
                  quantity: long
                  price:    {type: decimal, scale: 2}
            features:
              - {name: unit_price, event: purchase, aggregation: max, value: amount / quantity}
              - {name: guarded, event: purchase, aggregation: sum, value: amount / quantity, filter: quantity != 0}
              - {name: big_lines, event: purchase, aggregation: count,
                 filter: "quantity > 100 and amount / (quantity - 101) > 1"}
              - {name: squares, event: purchase, aggregation: sum, value: quantity * quantity}
            profile:
              - {name: doubled, event: purchase, rule: max, value: amount * 2}
            """, "the number rule test");
    private final NumberRule rule = new NumberRule(REGISTRY, 1e19);

    private static Event purchase(double amount, Long quantity) {
        Map<String, Object> fields = new HashMap<>(Map.of("amount", amount));
        if (quantity != null) {
            fields.put("quantity", quantity);
        }
        return new Event("e1", "purchase", "c1", 0, fields);
    }

    @Test
    void anEventWhoseNumbersAndComputationsAreFiniteAndWithinTheBoundKeepsTheRule() {
        assertThat(rule.violations(0, purchase(12.5, 4L))).isEmpty();
        assertThat(rule.violations(0, purchase(12.5, null))).as("a missing value computes nothing").isEmpty();
        assertThat(rule.violations(0, purchase(-5e18, Long.MAX_VALUE / 4_000_000_000L))).isEmpty();
    }

    @Test
    void aNumberThatIsNotFiniteOrBeyondTheBoundIsNamedByItsField() {
        assertThat(rule.violations(2, purchase(Double.POSITIVE_INFINITY, 1L))).singleElement().satisfies(e -> {
            assertThat(e.index()).isEqualTo(2);
            assertThat(e.field()).isEqualTo("amount");
            assertThat(e.reason()).isEqualTo("is not a finite number as a double (Infinity)");
        });
        assertThat(rule.violations(0, purchase(2e19, 1L))).singleElement()
                .satisfies(e -> assertThat(e.reason()).contains("beyond").contains("FP_MAX_ABS_NUMBER"));
        Event decimal = new Event("e1", "purchase", "c1", 0, Map.of("amount", 1.0, "price", new BigDecimal("1E+20")));
        assertThat(rule.violations(0, decimal)).extracting(FieldError::field).containsExactly("price");
        assertThat(new NumberRule(REGISTRY, 100).violations(0, purchase(1, 101L))).extracting(FieldError::field)
                .containsExactly("quantity");
    }

    @Test
    void aComputationThatIsNotFiniteIsNamedWithItsFeature() {
        List<FieldError> errors = rule.violations(0, purchase(12.5, 0L));
        assertThat(errors).singleElement().satisfies(e -> {
            assertThat(e.field()).isEqualTo("amount");
            assertThat(e.reason()).isEqualTo("what feature 'unit_price' computes from it is not a finite number as a double (Infinity)");
        });
        assertThat(rule.violations(0, purchase(1e19, 1L))).extracting(FieldError::reason)
                .containsExactly("what profile field 'doubled' computes from it is 2.0E19, beyond the largest magnitude allowed, 1.0E19 (FP_MAX_ABS_NUMBER)");
        assertThat(rule.violations(0, purchase(5, 101L))).extracting(FieldError::reason)
                .containsExactly("what feature 'big_lines' computes from it is not a finite number as a double (Infinity)");
    }

    @Test
    void whatAFilterOrAnAndSkipsIsNotComputedSoNotChecked() {
        Registry guardedOnly = RegistryLoader.parse("""
                entities: {customer: {key: customer_id}}
                events:
                  purchase: {entity: customer, fields: {amount: {type: double, required: true}, quantity: long}}
                features:
                  - {name: guarded, event: purchase, aggregation: sum, value: amount / quantity, filter: quantity != 0}
                  - {name: lines, event: purchase, aggregation: count, filter: "quantity != 0 and amount / quantity > 1"}
                """, "guarded");
        assertThat(new NumberRule(guardedOnly, 1e19).violations(0, purchase(12.5, 0L))).isEmpty();
    }

    @Test
    void wholeNumberArithmeticThatOverflowsALongBreaksTheRule() {
        assertThat(rule.violations(0, purchase(1, 4_000_000_000L))).singleElement().satisfies(e -> {
            assertThat(e.field()).isEqualTo("quantity");
            assertThat(e.reason()).isEqualTo("feature 'squares' overflows a whole number (long) for this event");
        });
    }

    @Test
    void aConsumerIsRefusedTheEventAsAValueNoStoreCanHold() {
        assertThatThrownBy(() -> rule.require(purchase(12.5, 0L))).isInstanceOf(StoreRejectedException.class)
                .hasMessageContaining("unit_price").hasMessageContaining("Infinity");
    }
}
