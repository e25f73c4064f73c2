package dev.featurepipe.online;

import dev.featurepipe.core.FieldType;
import java.math.BigDecimal;

/** Values as the online store keeps them: text, and the members of a last_n feature's recent values. */
public final class StoredValues {
    private static final char MEMBER_SEPARATOR = '\0';

    private StoredValues() {
    }

    /** Numbers as Redis and the script read them back: whole numbers without a decimal point. */
    public static String text(Object value) {
        if (value instanceof Double d) {
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString(d.longValue()) : Double.toString(d);
        }
        if (value instanceof Boolean b) {
            return b ? "1" : "0";
        }
        if (value instanceof BigDecimal d) {
            return d.toPlainString();
        }
        return String.valueOf(value);
    }

    /** A stored value back in its type; a decimal at {@code scale}. */
    public static Object typed(FieldType type, int scale, String text) {
        return switch (type) {
            case DECIMAL -> new BigDecimal(text).setScale(scale);
            case STRING -> text;
            case LONG -> text.contains(".") || text.contains("E") ? Math.round(Double.parseDouble(text)) : Long.parseLong(text);
            case DOUBLE -> Double.parseDouble(text);
            case BOOLEAN -> text.equals("1") || text.equals("true");
        };
    }

    /** A recent value's member: the value alone when each is kept once, else with its event's id before it. */
    static String recentMember(String eventId, Object value, boolean distinct) {
        return distinct ? text(value) : eventId + MEMBER_SEPARATOR + text(value);
    }

    /** The stored value of a recent value's member. */
    public static String recentValue(String member, boolean distinct) {
        return distinct ? member : member.substring(member.indexOf(MEMBER_SEPARATOR) + 1);
    }
}
