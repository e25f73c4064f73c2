package dev.featurepipe.core.registry;

import dev.featurepipe.core.expr.Expr;

/**
 * A field of the entity's profile document, kept by a rule applied to each event of one type that passes the
 * filter.
 *
 * @param value the expression whose value the rule applies (a field, a constant, or arithmetic)
 * @param filter which events apply; null for all
 * @param scale the scale of a decimal value (see {@link dev.featurepipe.core.FieldType#DECIMAL}); 0 for the others
 */
public record ProfileFeature(String name, String entity, String eventType, ProfileRule rule, Expr value, Expr filter,
                             int scale) {
}
