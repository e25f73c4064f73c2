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
                    : "(" + value(a.left()) + " " + a.op() + " " + value(a.right()) + ")";
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
            return in.negated() ? "ifNull(isNotNull(" + value(in.operand()) + ") AND " + value(in.operand()) + " NOT IN (" + list + "), 0)"
                    : "ifNull(" + value(in.operand()) + " IN (" + list + "), 0)";
        }
        if (e instanceof Expr.Compare c) {
            return "ifNull(" + value(c.left()) + " " + c.op() + " " + value(c.right()) + ", 0)";
        }
        if (e instanceof Expr.Field f) {
            return "ifNull(`" + f.name() + "` = 1, 0)";
        }
        if (e instanceof Expr.Literal l) {
            return literal(l);
        }
        throw new IllegalArgumentException("not a condition: " + e);
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
