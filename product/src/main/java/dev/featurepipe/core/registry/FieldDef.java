package dev.featurepipe.core.registry;

import dev.featurepipe.core.FieldType;

/**
 * A typed field an event type declares.
 *
 * @param scale digits after the decimal point of a decimal field (at most {@link #MAX_DIGITS}); 0 for the others
 */
public record FieldDef(String name, FieldType type, boolean required, int scale) {
    /** Digits a decimal holds in all, as ClickHouse's Decimal64 does. */
    public static final int MAX_DIGITS = 18;
}
