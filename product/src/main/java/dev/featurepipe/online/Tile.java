package dev.featurepipe.online;

import java.util.Arrays;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A tile of one feature's state: the events of {@code [start, start + ms)} folded into the hash fields
 * {@code <ms>:<start>:<part>}. The lifetime window is the one tile {@link #LIFETIME}.
 */
public record Tile(long ms, long start) {
    public static final Tile LIFETIME = new Tile(0, 0);
    /** Between the tile size, the tile start and the part of a field's name. */
    public static final String SEPARATOR = ":";

    /** What a field of a tile holds. */
    public enum Part {
        COUNT("c"),
        SUM("s"),
        SUM_OF_SQUARES("q"),
        MIN("n"),
        MAX("x"),
        /** one field per value, {@code d:<value>} */
        DISTINCT("d"),
        /** event time, event_id and value of the tile's latest event */
        LAST_TS("lt"),
        LAST_ID("li"),
        LAST_VALUE("lv");

        private static final Map<String, Part> BY_SUFFIX = Arrays.stream(values())
                .collect(Collectors.toUnmodifiableMap(Part::suffix, Function.identity()));
        private final String suffix;

        Part(String suffix) {
            this.suffix = suffix;
        }

        public String suffix() {
            return suffix;
        }
    }

    /** The tile of size {@code tileMs} (0: lifetime) that holds event time {@code ts}. */
    public static Tile holding(long tileMs, long ts) {
        return tileMs == 0 ? LIFETIME : new Tile(tileMs, Math.floorDiv(ts, tileMs) * tileMs);
    }

    /** What the names of this tile's fields start with. */
    public String prefix() {
        return ms + SEPARATOR + start + SEPARATOR;
    }

    public String field(Part part) {
        return prefix() + part.suffix;
    }

    /** The field that marks {@code value} (as stored) as seen in this tile. */
    public String distinctField(String value) {
        return field(Part.DISTINCT) + SEPARATOR + value;
    }

    /** A field name taken apart; {@code value} is the distinct value of a {@link Part#DISTINCT} field. */
    record Field(Tile tile, Part part, String value) {
    }

    /** The tile, part (and value) a field name says, or null when the name is not a tile field's. */
    static Field parse(String name) {
        int a = name.indexOf(SEPARATOR);
        int b = a < 0 ? -1 : name.indexOf(SEPARATOR, a + 1);
        if (b < 0) {
            return null;
        }
        int c = name.indexOf(SEPARATOR, b + 1);
        Part part = Part.BY_SUFFIX.get(c < 0 ? name.substring(b + 1) : name.substring(b + 1, c));
        if (part == null) {
            return null;
        }
        Tile tile = new Tile(Long.parseLong(name, 0, a, 10), Long.parseLong(name, a + 1, b, 10));
        return new Field(tile, part, c < 0 ? null : name.substring(c + 1));
    }
}
