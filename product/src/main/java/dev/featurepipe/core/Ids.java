package dev.featurepipe.core;

import java.util.Optional;

/**
 * What an id (an event's id, an entity's id) may be: non-blank text of at most {@link #MAX_LENGTH} characters,
 * without control characters, line or paragraph separators, or lone surrogates (which no UTF-8 can carry). Ingest
 * refuses other ids, so no store holds one, and serving refuses to look one up.
 */
public final class Ids {
    public static final int MAX_LENGTH = 256;

    private Ids() {
    }

    /** Why {@code id} is not a valid id, or empty when it is. */
    public static Optional<String> problem(String id) {
        if (id.isBlank()) {
            return Optional.of("must not be blank");
        }
        if (id.length() > MAX_LENGTH) {
            return Optional.of("longer than " + MAX_LENGTH + " characters");
        }
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            int type = Character.getType(c);
            if (Character.isISOControl(c) || type == Character.LINE_SEPARATOR || type == Character.PARAGRAPH_SEPARATOR) {
                return Optional.of(String.format("holds the control character U+%04X at %d", (int) c, i));
            }
            if (Character.isHighSurrogate(c) && i + 1 < id.length() && Character.isLowSurrogate(id.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return Optional.of("holds a lone surrogate at " + i + " (not Unicode text)");
            }
        }
        return Optional.empty();
    }
}
