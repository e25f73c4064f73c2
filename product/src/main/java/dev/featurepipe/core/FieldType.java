package dev.featurepipe.core;


/** The types an event field can have, with the names the registry uses for them. */
public enum FieldType {
    STRING("string"),
    LONG("long"),
    DOUBLE("double"),
    BOOLEAN("boolean"),
    /** exact, with the scale its declaration gives (a Java BigDecimal, a ClickHouse Decimal(18, scale)) */
    DECIMAL("decimal");

    private final String registryName;

    FieldType(String registryName) {
        this.registryName = registryName;
    }

    public String registryName() {
        return registryName;
    }

    public boolean numeric() {
        return this == LONG || this == DOUBLE || this == DECIMAL;
    }
}
