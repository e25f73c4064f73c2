package dev.featurepipe.core;

import java.util.List;

/** Input from a client is invalid; carries every problem found, each naming the field. */
public class ValidationException extends FeaturepipeException {
    private final List<FieldError> errors;

    public ValidationException(String message, List<FieldError> errors) {
        super(message);
        this.errors = List.copyOf(errors);
    }

    public List<FieldError> errors() {
        return errors;
    }
}
