package dev.featurepipe.clickhouse;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A ClickHouse server's version (what {@code SELECT version()} answers), and what it decides. */
record ClickHouseVersion(int major, int minor) {
    private static final Pattern VERSION = Pattern.compile("(\\d+)\\.(\\d+)(\\..*)?");

    static ClickHouseVersion parse(String text) {
        Matcher m = VERSION.matcher(text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a ClickHouse version: '" + text + "'");
        }
        return new ClickHouseVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
    }

    /**
     * Whether the server has the setting {@code async_insert} (21.11 and later). An older server refuses a request
     * naming a setting it does not know, so it must not be sent one.
     */
    boolean knowsAsyncInsert() {
        return major > 21 || (major == 21 && minor >= 11);
    }

    @Override
    public String toString() {
        return major + "." + minor;
    }
}
