package dev.featurepipe.core.expr;

import dev.featurepipe.core.FieldType;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;

/** Evaluates an {@link Expr} on one event's fields, with the null rules of {@link Expr}. */
public final class Evaluator {
    private Evaluator() {
    }

    /**
     * The value: Long, Double, BigDecimal, String, Boolean, or null when a field it needs is missing.
     *
     * @throws ArithmeticException when arithmetic on whole numbers overflows a long
     */
    public static Object value(Expr e, Map<String, Object> fields) {
        if (e instanceof Expr.Field f) {
            return fields.get(f.name());
        }
        if (e instanceof Expr.Literal l) {
            return l.value();
        }
        if (e instanceof Expr.Negate n) {
            return negate(value(n.operand(), fields));
        }
        if (e instanceof Expr.Arithmetic a) {
            return arithmetic(a, value(a.left(), fields), value(a.right(), fields));
        }
        return test(e, fields);
    }

    /** Whether a condition holds; a comparison with a missing value does not. */
    public static boolean test(Expr e, Map<String, Object> fields) {
        if (e instanceof Expr.Logic l) {
            return l.op().equals("and") ? test(l.left(), fields) && test(l.right(), fields)
                    : test(l.left(), fields) || test(l.right(), fields);
        }
        if (e instanceof Expr.Not n) {
            return !test(n.operand(), fields);
        }
        if (e instanceof Expr.IsNull n) {
            return (value(n.operand(), fields) == null) != n.negated();
        }
        if (e instanceof Expr.In in) {
            Object v = value(in.operand(), fields);
            return v != null && in.values().stream().anyMatch(lit -> compare(v, lit.value()) == 0) != in.negated();
        }
        if (e instanceof Expr.Compare c) {
            Object l = value(c.left(), fields);
            Object r = value(c.right(), fields);
            return l != null && r != null && holds(c.op(), compare(l, r));
        }
        return Boolean.TRUE.equals(value(e, fields));
    }

    private static boolean holds(String op, int cmp) {
        return switch (op) {
            case "=" -> cmp == 0;
            case "!=" -> cmp != 0;
            case "<" -> cmp < 0;
            case "<=" -> cmp <= 0;
            case ">" -> cmp > 0;
            default -> cmp >= 0;
        };
    }

    private static boolean exact(Number n) {
        return n instanceof Long || n instanceof BigDecimal;
    }

    private static BigDecimal decimal(Number n) {
        return n instanceof BigDecimal d ? d : BigDecimal.valueOf(n.longValue());
    }

    private static Object negate(Object v) {
        if (v instanceof BigDecimal d) {
            return d.negate();
        }
        return v == null ? null : v instanceof Long l ? (Object) Math.negateExact(l) : (Object) (-((Number) v).doubleValue());
    }

    private static Object arithmetic(Expr.Arithmetic a, Object l, Object r) {
        if (l == null || r == null) {
            return null;
        }
        if (a.type() == FieldType.LONG) {
            long x = (Long) l;
            long y = (Long) r;
            // exact: a whole number that overflows is refused by the number rule, never wrapped
            return switch (a.op()) {
                case '+' -> Math.addExact(x, y);
                case '-' -> Math.subtractExact(x, y);
                default -> Math.multiplyExact(x, y);
            };
        }
        double x = ((Number) l).doubleValue();
        double y = ((Number) r).doubleValue();
        return switch (a.op()) {
            case '+' -> x + y;
            case '-' -> x - y;
            case '*' -> x * y;
            default -> x / y;
        };
    }

    /**
     * Orders two values of comparable types: numbers by value (exactly between whole numbers and decimals, else as
     * doubles, as the SQL compares them), strings by their UTF-8 bytes (as ClickHouse does), booleans false before
     * true.
     */
    public static int compare(Object a, Object b) {
        if (a instanceof Number x && b instanceof Number y) {
            if (x instanceof Long lx && y instanceof Long ly) {
                return Long.compare(lx, ly);
            }
            if (exact(x) && exact(y)) {
                return decimal(x).compareTo(decimal(y));
            }
            return Double.compare(x.doubleValue(), y.doubleValue());
        }
        if (a instanceof String x && b instanceof String y) {
            return Arrays.compareUnsigned(x.getBytes(StandardCharsets.UTF_8), y.getBytes(StandardCharsets.UTF_8));
        }
        return Boolean.compare((Boolean) a, (Boolean) b);
    }
}
