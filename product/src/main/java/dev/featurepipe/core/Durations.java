package dev.featurepipe.core;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses and prints the short duration form used in the registry and settings: 500ms, 30s, 5m, 1h, 7d. */
public final class Durations {
    private static final Pattern SHORT = Pattern.compile("(\\d+)(ms|s|m|h|d)");
    /** Ten years: longer windows, TTLs and skews are mistakes. */
    static final Duration MAX = Duration.ofDays(3650);

    private Durations() {
    }

    /** @throws IllegalArgumentException with a message a person can act on */
    public static Duration parse(String text) {
        Matcher m = SHORT.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a duration like 500ms, 30s, 5m, 1h or 7d");
        }
        long n;
        try {
            n = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is too long a duration");
        }
        Duration d = switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> n > MAX.toDays() ? MAX.plusDays(1) : Duration.ofDays(n);
        };
        if (d.compareTo(MAX) > 0) {
            throw new IllegalArgumentException("'" + text + "' is longer than the longest allowed duration, "
                    + MAX.toDays() + "d");
        }
        return d;
    }

    /** The shortest exact short form: 90 minutes prints as 90m, 48 hours as 2d. */
    public static String format(Duration d) {
        long ms = d.toMillis();
        long[] units = {86_400_000L, 3_600_000L, 60_000L, 1_000L};
        String[] names = {"d", "h", "m", "s"};
        for (int i = 0; i < units.length; i++) {
            if (ms % units[i] == 0 && ms != 0) {
                return ms / units[i] + names[i];
            }
        }
        return ms + "ms";
    }
}
