package dev.featurepipe.core;

import dev.featurepipe.core.expr.Evaluator;
import dev.featurepipe.core.expr.Expr;
import dev.featurepipe.core.registry.AggregateFeature;
import dev.featurepipe.core.registry.ProfileFeature;
import dev.featurepipe.core.registry.Registry;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The one rule for numbers, the same for every store: each number an event holds, and each number that a value or
 * filter of a feature or profile rule of its type computes from it, is finite and at most {@code maxAbs} in
 * magnitude (a whole number's arithmetic must not overflow a long). Ingest refuses an event that breaks it (400),
 * and each consumer checks it again before it writes (the registry may have changed since) and dead-letters such
 * an event: so online, offline and profiles always hold the same events, and no sum or square of the numbers they
 * hold reaches infinity. A value is checked only where it is computed: not when its filter does not pass, nor the
 * right side of an {@code and} whose left side is false.
 */
public final class NumberRule {
    private final Registry registry;
    private final double maxAbs;
    private final BigDecimal maxAbsDecimal;

    /** @param maxAbs the largest magnitude a number may have (FP_MAX_ABS_NUMBER) */
    public NumberRule(Registry registry, double maxAbs) {
        this.registry = registry;
        this.maxAbs = maxAbs;
        this.maxAbsDecimal = new BigDecimal(maxAbs);
    }

    /** A computation of an event type: a feature's or profile rule's value, and the filter it is computed under. */
    private record Computed(String what, Expr value, Expr filter) {
    }

    /** What the event breaks the rule by, each naming a field and the reason; empty when it keeps the rule. */
    public List<FieldError> violations(int index, Event event) {
        List<FieldError> errors = new ArrayList<>();
        event.fields().forEach((name, value) -> {
            String problem = problem(value);
            if (problem != null) {
                errors.add(new FieldError(index, name, problem));
            }
        });
        if (!errors.isEmpty()) {
            return errors;
        }
        for (Computed c : computations(event.type())) {
            Check check = new Check(index, c.what(), event.fields());
            if (c.filter() == null || check.condition(c.filter())) {
                check.value(c.value());
            }
            if (check.error != null) {
                errors.add(check.error);
            }
        }
        return errors;
    }

    /**
     * For a consumer: an event that breaks the rule cannot be applied by any store.
     *
     * @throws StoreRejectedException naming the first violation
     */
    public void require(Event event) {
        List<FieldError> violations = violations(0, event);
        if (!violations.isEmpty()) {
            FieldError first = violations.get(0);
            throw new StoreRejectedException("event breaks the number rule: " + first.field() + ": " + first.reason(), null);
        }
    }

    private List<Computed> computations(String eventType) {
        List<Computed> all = new ArrayList<>();
        for (AggregateFeature f : registry.aggregatesOf(eventType)) {
            all.add(new Computed("feature '" + f.name() + "'", f.value(), f.filter()));
        }
        for (ProfileFeature p : registry.profilesOf(eventType)) {
            all.add(new Computed("profile field '" + p.name() + "'", p.value(), p.filter()));
        }
        return all;
    }

    /** Why a number breaks the rule, or null. */
    private String problem(Object value) {
        if (value instanceof Double d && !Double.isFinite(d)) {
            return "is not a finite number as a double (" + d + ")";
        }
        boolean beyond = value instanceof BigDecimal d ? d.abs().compareTo(maxAbsDecimal) > 0
                : value instanceof Number n && Math.abs(n.doubleValue()) > maxAbs;
        return beyond ? "is " + value + ", beyond the largest magnitude allowed, " + maxAbs + " (FP_MAX_ABS_NUMBER)" : null;
    }

    /** Walks one computation in the evaluator's order, keeping the first number that breaks the rule. */
    private final class Check {
        private final int index;
        private final String what;
        private final Map<String, Object> fields;
        private FieldError error;

        Check(int index, String what, Map<String, Object> fields) {
            this.index = index;
            this.what = what;
            this.fields = fields;
        }

        /** Checks what a condition computes; returns whether it holds. */
        boolean condition(Expr e) {
            if (e instanceof Expr.Logic l) {
                boolean left = condition(l.left());
                boolean and = l.op().equals("and");
                return left == and && error == null ? condition(l.right()) : left;
            }
            if (e instanceof Expr.Not n) {
                return !condition(n.operand());
            }
            if (e instanceof Expr.IsNull n) {
                value(n.operand());
            } else if (e instanceof Expr.In in) {
                value(in.operand());
            } else if (e instanceof Expr.Compare c) {
                value(c.left());
                value(c.right());
            } else {
                value(e);
            }
            return error == null && Evaluator.test(e, fields);
        }

        /** Checks every arithmetic step of a value (a condition's, when the value is one). */
        void value(Expr e) {
            if (error != null || e == null || e instanceof Expr.Field || e instanceof Expr.Literal) {
                return; // a field was checked on its own, a literal is the registry's
            }
            if (e instanceof Expr.Arithmetic a) {
                value(a.left());
                value(a.right());
            } else if (e instanceof Expr.Negate n) {
                value(n.operand());
            } else {
                condition(e);
                return;
            }
            if (error != null) {
                return;
            }
            Object result;
            try {
                result = Evaluator.value(e, fields);
            } catch (ArithmeticException overflow) {
                error = new FieldError(index, firstField(e), what + " overflows a whole number (long) for this event");
                return;
            }
            String problem = problem(result);
            if (problem != null) {
                error = new FieldError(index, firstField(e), "what " + what + " computes from it " + problem);
            }
        }
    }

    /** The first field an expression reads, the one an error names ("$" for none). */
    private static String firstField(Expr e) {
        if (e instanceof Expr.Field f) {
            return f.name();
        }
        if (e instanceof Expr.Arithmetic a) {
            String left = firstField(a.left());
            return left.equals("$") ? firstField(a.right()) : left;
        }
        return e instanceof Expr.Negate n ? firstField(n.operand()) : "$";
    }
}
