package dev.featurepipe.redis;

import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.expr.Evaluator;
import dev.featurepipe.core.registry.AggregateFeature;
import dev.featurepipe.core.registry.Window;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** Folds the tiles of one feature's hash that a window covers at a given time into the window's value. */
final class TileReader {
    private TileReader() {
    }

    /** The value, or null when no event in the window contributed (0 for count, sum and count_distinct). */
    static Object value(AggregateFeature f, Window w, Map<String, String> fields, long now) {
        String g = Long.toString(w.tileMs());
        long from = w.lowerBound(now);
        double sum = 0;
        long count = 0;
        Double min = null;
        Double max = null;
        String minText = null;
        String maxText = null;
        long lastTs = Long.MIN_VALUE;
        String lastId = null;
        String lastStart = null;
        Set<String> distinct = new HashSet<>();
        for (Map.Entry<String, String> field : fields.entrySet()) {
            String[] parts = field.getKey().split(":", 4);
            if (parts.length < 3 || !parts[0].equals(g) || Long.parseLong(parts[1]) < from) {
                continue;
            }
            String v = field.getValue();
            switch (parts[2]) {
                case "c" -> count += Math.round(Double.parseDouble(v));
                case "s" -> sum += Double.parseDouble(v);
                case "n" -> {
                    double d = Double.parseDouble(v);
                    if (min == null || d < min) {
                        min = d;
                        minText = v;
                    }
                }
                case "x" -> {
                    double d = Double.parseDouble(v);
                    if (max == null || d > max) {
                        max = d;
                        maxText = v;
                    }
                }
                case "d" -> distinct.add(parts[3]);
                case "lt" -> {
                    long ts = Long.parseLong(v);
                    String id = fields.get(parts[0] + ":" + parts[1] + ":li");
                    if (ts > lastTs || (ts == lastTs && Evaluator.compare(id, lastId) > 0)) {
                        lastTs = ts;
                        lastId = id;
                        lastStart = parts[0] + ":" + parts[1] + ":";
                    }
                }
                default -> {
                    // li, lv (read with lt), m (the tile's marker)
                }
            }
        }
        FieldType type = f.resultType();
        return switch (f.aggregation()) {
            case COUNT -> count;
            case SUM -> type == FieldType.LONG ? (Object) Math.round(sum) : (Object) sum;
            case AVG -> count == 0 ? null : sum / count;
            case MIN, FIRST_SEEN -> minText == null ? null : typed(type, minText);
            case MAX, LAST_SEEN -> maxText == null ? null : typed(type, maxText);
            case COUNT_DISTINCT -> (long) distinct.size();
            case LAST -> lastStart == null ? null : typed(type, fields.get(lastStart + "lv"));
            case LAST_N -> throw new IllegalStateException("last_n is a sorted set, not tiles");
        };
    }

    /** A value as the script stored it, back in its type. */
    static Object typed(FieldType type, String text) {
        return switch (type) {
            case STRING -> text;
            case LONG -> text.contains(".") || text.contains("E") ? Math.round(Double.parseDouble(text)) : Long.parseLong(text);
            case DOUBLE -> Double.parseDouble(text);
            case BOOLEAN -> text.equals("1") || text.equals("true");
        };
    }
}
