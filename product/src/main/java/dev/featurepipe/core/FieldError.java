package dev.featurepipe.core;

/** Why one field of one event (by its index in the request) is invalid. */
public record FieldError(int index, String field, String reason) {
    @Override
    public String toString() {
        return "event " + index + ": " + field + ": " + reason;
    }
}
