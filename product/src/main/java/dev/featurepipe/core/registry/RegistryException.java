package dev.featurepipe.core.registry;

import dev.featurepipe.core.FeaturepipeException;
import java.util.List;
import java.util.stream.Collectors;

/** The registry file is invalid; holds every error found, not only the first. */
public class RegistryException extends FeaturepipeException {
    private final List<RegistryError> errors;

    public RegistryException(String source, List<RegistryError> errors) {
        super("invalid feature registry " + source + ":\n" + errors.stream()
                .map(e -> "  " + source + ":" + e).collect(Collectors.joining("\n")));
        this.errors = List.copyOf(errors);
    }

    public List<RegistryError> errors() {
        return errors;
    }
}
