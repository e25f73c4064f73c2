package dev.featurepipe.online;

/**
 * An entity's window cache: per served name the value of a window as last folded from tiles,
 * {@code "<generation> <lower bound> <state>"} with state {@code v<value>}, {@code u} (the feature has state but
 * nothing in the window: null) or {@code n} (the feature has no state), beside the field {@link #GENERATION},
 * which every write to the entity's state bumps, and the field {@link #SEQUENCE}, the number of the entity's last
 * applied event of a type with profile rules. An entry is served only for the generation and the lower bound
 * it was computed for.
 */
public final class WindowCache {
    /** The field holding the generation; no feature name can be it. */
    public static final String GENERATION = "@gen";
    /** The field holding the entity's last event number; no feature name can be it. */
    public static final String SEQUENCE = "@seq";

    private WindowCache() {
    }

    /** What an entry serves: nothing (the feature has no state), or a value, null included. */
    public record Hit(boolean hasState, String valueText) {
        static final Hit NO_STATE = new Hit(false, null);
        static final Hit NO_VALUE = new Hit(true, null);
    }

    /** The entry of a window with no state ({@code hasState} false), or with its value (null: none). */
    public static String entry(String generation, long lowerBound, boolean hasState, Object value) {
        String state = !hasState ? "n" : value == null ? "u" : "v" + StoredValues.text(value);
        return generation + " " + lowerBound + " " + state;
    }

    /** What {@code entry} serves at this generation and lower bound, or null when it cannot serve them. */
    public static Hit lookup(String entry, String generation, long lowerBound) {
        int a = entry == null ? -1 : entry.indexOf(' ');
        int b = a < 0 ? -1 : entry.indexOf(' ', a + 1);
        if (generation == null || b < 0 || a != generation.length() || !entry.regionMatches(0, generation, 0, a)
                || Long.parseLong(entry, a + 1, b, 10) != lowerBound) {
            return null;
        }
        return switch (entry.charAt(b + 1)) {
            case 'v' -> new Hit(true, entry.substring(b + 2));
            case 'u' -> Hit.NO_VALUE;
            default -> Hit.NO_STATE;
        };
    }
}
