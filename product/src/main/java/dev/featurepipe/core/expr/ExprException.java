package dev.featurepipe.core.expr;

import dev.featurepipe.core.FeaturepipeException;

/** An expression that cannot be parsed or type-checked; {@code column} is where in the text (1-based). */
public class ExprException extends FeaturepipeException {
    private final int column;

    public ExprException(String message, int column) {
        super(message + " (at column " + column + ")");
        this.column = column;
    }

    public int column() {
        return column;
    }
}
