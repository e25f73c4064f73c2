package dev.featurepipe.core.expr;

import dev.featurepipe.core.FieldType;
import java.util.List;

/**
 * A parsed value expression or filter of the registry. The one parsed form is compiled both ways: evaluated per
 * event in Java ({@link Evaluator}) and written as ClickHouse SQL ({@link SqlWriter}), so that online and offline
 * compute the same thing. A missing value (an absent optional field) is null; arithmetic with null is null; a
 * comparison with null is false.
 */
public sealed interface Expr {
    /** The type of the result; comparisons and logic are BOOLEAN. */
    FieldType type();

    record Field(String name, FieldType type) implements Expr {
    }

    /** A number, a 'string', true or false. */
    record Literal(Object value, FieldType type) implements Expr {
    }

    /** {@code + - * /} on numbers; {@code /} always gives a double. */
    record Arithmetic(char op, Expr left, Expr right, FieldType type) implements Expr {
    }

    record Negate(Expr operand, FieldType type) implements Expr {
    }

    /** {@code = != < <= > >=}. */
    record Compare(String op, Expr left, Expr right) implements Expr {
        @Override
        public FieldType type() {
            return FieldType.BOOLEAN;
        }
    }

    /** {@code x in (a, b)}, or {@code x not in (...)} when negated. */
    record In(Expr operand, List<Literal> values, boolean negated) implements Expr {
        @Override
        public FieldType type() {
            return FieldType.BOOLEAN;
        }
    }

    /** {@code x is null}, or {@code x is not null} when negated. */
    record IsNull(Expr operand, boolean negated) implements Expr {
        @Override
        public FieldType type() {
            return FieldType.BOOLEAN;
        }
    }

    /** {@code and}, {@code or}. */
    record Logic(String op, Expr left, Expr right) implements Expr {
        @Override
        public FieldType type() {
            return FieldType.BOOLEAN;
        }
    }

    record Not(Expr operand) implements Expr {
        @Override
        public FieldType type() {
            return FieldType.BOOLEAN;
        }
    }
}
