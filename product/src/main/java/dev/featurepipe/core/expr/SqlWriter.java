package dev.featurepipe.core.expr;

import dev.featurepipe.core.FieldType;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Writes an {@link Expr} as ClickHouse SQL (18.16 and later) over the offline table's columns, with the null
 * rules of {@link Expr}: arithmetic on NULL stays NULL, and every condition is made 0 or 1, never NULL, before
 * and/or/not see it (ClickHouse's {@code and} would otherwise turn {@code 0 AND NULL} into NULL).
 */
public final class SqlWriter {
    private SqlWriter() {
    }

    /** A value expression (NULL when a field it needs is NULL). */
    public static String value(Expr e) {
        if (e instanceof Expr.Field f) {
            return "`" + f.name() + "`";
        }
        if (e instanceof Expr.Literal l) {
            return literal(l);
        }
        if (e instanceof Expr.Negate n) {
            return "(-" + value(n.operand()) + ")";
        }
        if (e instanceof Expr.Arithmetic a) {
            return a.op() == '/' ? "(toFloat64(" + value(a.left()) + ") / " + value(a.right()) + ")"
                    : "(" + asDouble(a.left(), a.type()) + " " + a.op() + " " + asDouble(a.right(), a.type()) + ")";
        }
        return condition(e);
    }

    /** A condition: an expression that is always 0 or 1. */
    public static String condition(Expr e) {
        if (e instanceof Expr.Logic l) {
            return "(" + condition(l.left()) + " " + l.op().toUpperCase(Locale.ROOT) + " " + condition(l.right()) + ")";
        }
        if (e instanceof Expr.Not n) {
            return "(NOT " + condition(n.operand()) + ")";
        }
        if (e instanceof Expr.IsNull n) {
            return "(" + value(n.operand()) + (n.negated() ? " IS NOT NULL)" : " IS NULL)");
        }
        if (e instanceof Expr.In in) {
            String list = in.values().stream().map(SqlWriter::literal).collect(Collectors.joining(", "));
            String operand = asDouble(in.operand(), in.values().stream().anyMatch(l -> l.type() == FieldType.DOUBLE)
                    ? FieldType.DOUBLE : in.operand().type());
            return in.negated() ? "ifNull(isNotNull(" + operand + ") AND " + operand + " NOT IN (" + list + "), 0)"
                    : "ifNull(" + operand + " IN (" + list + "), 0)";
        }
        if (e instanceof Expr.Compare c) {
            FieldType as = c.left().type() == FieldType.DOUBLE || c.right().type() == FieldType.DOUBLE ? FieldType.DOUBLE
                    : c.left().type();
            return "ifNull(" + asDouble(c.left(), as) + " " + c.op() + " " + asDouble(c.right(), as) + ", 0)";
        }
        if (e instanceof Expr.Field f) {
            return "ifNull(`" + f.name() + "` = 1, 0)";
        }
        if (e instanceof Expr.Literal l) {
            return literal(l);
        }
        throw new IllegalArgumentException("not a condition: " + e);
    }

    /**
     * The operand of an operation computed in {@code type}: a decimal is cast to Float64 where the operation is a
     * double one, as {@link Evaluator} computes it (ClickHouse would keep it exact, or refuse to mix the two).
     */
    private static String asDouble(Expr operand, FieldType type) {
        return type == FieldType.DOUBLE && operand.type() == FieldType.DECIMAL ? "toFloat64(" + value(operand) + ")"
                : value(operand);
    }

    static String literal(Expr.Literal l) {
        if (l.type() == FieldType.STRING) {
            return quote((String) l.value());
        }
        if (l.type() == FieldType.BOOLEAN) {
            return (Boolean) l.value() ? "1" : "0";
        }
        if (l.type() == FieldType.DOUBLE) {
            double d = (Double) l.value();
            return "toFloat64(" + (d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) + ".0" : Double.toString(d)) + ")";
        }
        return "toInt64(" + l.value() + ")";
    }

    /** A ClickHouse string literal. */
    public static String quote(String s) {
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }
}
