package dev.featurepipe.core.registry;

/** One problem in a registry file, at a line, said so that a person can fix it. */
public record RegistryError(int line, String message) {
    @Override
    public String toString() {
        return "line " + line + ": " + message;
    }
}
