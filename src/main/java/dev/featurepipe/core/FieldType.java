package dev.featurepipe.core;

import java.util.Optional;

/** The types an event field can have, with the names the registry uses for them. */
public enum FieldType {
    STRING("string"),
    LONG("long"),
    DOUBLE("double"),
    BOOLEAN("boolean");

    private final String registryName;

    FieldType(String registryName) {
        this.registryName = registryName;
    }

    public String registryName() {
        return registryName;
    }

    public boolean numeric() {
        return this == LONG || this == DOUBLE;
    }

    public static Optional<FieldType> byRegistryName(String name) {
        for (FieldType type : values()) {
            if (type.registryName.equals(name)) {
                return Optional.of(type);
            }
        }
        return Optional.empty();
    }
}
