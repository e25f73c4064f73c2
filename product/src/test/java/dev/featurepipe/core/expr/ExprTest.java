package dev.featurepipe.core.expr;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.featurepipe.core.FieldType;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ExprTest {
    private static final Map<String, FieldType> FIELDS = Map.of("quantity", FieldType.LONG, "price", FieldType.DOUBLE,
            "country", FieldType.STRING, "vip", FieldType.BOOLEAN);

    private static Object eval(String expr, Map<String, Object> fields) {
        return Evaluator.value(ExprParser.parse(expr, FIELDS), fields);
    }

    @Test
    void arithmeticFollowsPrecedenceAndTypes() {
        Map<String, Object> e = Map.of("quantity", 3L, "price", 2.5);

        assertThat(eval("quantity * price + 1", e)).isEqualTo(8.5);
        assertThat(eval("quantity * (2 + 1) - -1", e)).isEqualTo(10L);
        assertThat(eval("quantity / 2", e)).isEqualTo(1.5);
        assertThat(ExprParser.parse("quantity + 1", FIELDS).type()).isEqualTo(FieldType.LONG);
        assertThat(ExprParser.parse("quantity + 1.0", FIELDS).type()).isEqualTo(FieldType.DOUBLE);
    }

    @Test
    void aMissingValueMakesArithmeticNullAndComparisonsFalse() {
        Map<String, Object> e = Map.of("quantity", 3L);

        assertThat(eval("price * quantity", e)).isNull();
        assertThat(eval("price > 1", e)).isEqualTo(false);
        assertThat(eval("not price > 1", e)).isEqualTo(true);
        assertThat(eval("price is null and quantity is not null", e)).isEqualTo(true);
        assertThat(eval("country not in ('UK')", e)).isEqualTo(false);
        assertThat(eval("country in ('UK', 'France') or vip", Map.of("country", "France"))).isEqualTo(true);
    }

    @Test
    void stringsCompareByBytesAndQuotesEscape() {
        assertThat(eval("country = 'O''Brien'", Map.of("country", "O'Brien"))).isEqualTo(true);
        assertThat(eval("country < 'b'", Map.of("country", "a"))).isEqualTo(true);
        assertThat(SqlWriter.value(ExprParser.parse("country = 'it''s \\\\'", FIELDS)))
                .isEqualTo("ifNull(`country` = 'it\\'s \\\\\\\\', 0)");
    }

    @Test
    void sqlKeepsTheSameNullRules() {
        assertThat(SqlWriter.condition(ExprParser.parse("price > 1 and not country in ('UK')", FIELDS)))
                .isEqualTo("(ifNull(`price` > toInt64(1), 0) AND (NOT ifNull(`country` IN ('UK'), 0)))");
        assertThat(SqlWriter.condition(ExprParser.parse("country not in ('UK')", FIELDS)))
                .isEqualTo("ifNull(isNotNull(`country`) AND `country` NOT IN ('UK'), 0)");
        assertThat(SqlWriter.value(ExprParser.parse("quantity / 2", FIELDS))).isEqualTo("(toFloat64(`quantity`) / toInt64(2))");
    }

    @Test
    void mistakesSayWhatAndWhere() {
        assertThatThrownBy(() -> ExprParser.parse("quantity +", FIELDS)).hasMessageContaining("ends too early");
        assertThatThrownBy(() -> ExprParser.parse("country * 2", FIELDS))
                .hasMessageContaining("'*' needs numbers, but 'country' is string").hasMessageContaining("column 9");
        assertThatThrownBy(() -> ExprParser.parse("quantity = null", FIELDS)).hasMessageContaining("'is null'");
        assertThatThrownBy(() -> ExprParser.parse("quantity > 1 1", FIELDS)).hasMessageContaining("unexpected '1'");
        assertThatThrownBy(() -> ExprParser.parse("country = 'x", FIELDS)).hasMessageContaining("not closed");
        assertThatThrownBy(() -> ExprParser.parse("vip and quantity", FIELDS)).hasMessageContaining("needs conditions");
    }

    /** Random text built from the language's tokens: the parser either parses it or says why, nothing else. */
    @Test
    void randomInputOnlyEverGivesAnExpressionOrAnExprException() {
        String[] tokens = {"quantity", "price", "country", "vip", "nope", "1", "2.5", "'a'", "(", ")", "+", "-", "*", "/",
            "=", "!=", "<", ">=", "and", "or", "not", "in", "is", "null", "true", ",", "'", "9999999999999999999999", "$"};
        Random random = new Random(42);
        Map<String, Object> fields = new HashMap<>(Map.of("quantity", 2L, "price", 1.5, "country", "a", "vip", true));
        int parsed = 0;
        for (int i = 0; i < 20_000; i++) {
            StringBuilder text = new StringBuilder();
            for (int t = 0, n = 1 + random.nextInt(8); t < n; t++) {
                text.append(tokens[random.nextInt(tokens.length)]).append(' ');
            }
            try {
                Expr e = ExprParser.parse(text.toString(), FIELDS);
                Evaluator.value(e, fields);
                SqlWriter.value(e);
                parsed++;
            } catch (ExprException expected) {
                assertThat(expected.column()).isPositive();
            }
        }
        assertThat(parsed).isGreaterThan(100);
    }
}
