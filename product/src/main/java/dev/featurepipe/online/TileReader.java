package dev.featurepipe.online;

import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.registry.AggregateFeature;
import dev.featurepipe.core.registry.Aggregation;
import dev.featurepipe.core.registry.Window;
import java.math.BigDecimal;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** Folds the tiles of one feature's state that a window covers at a given time into the window's value. */
public final class TileReader {
    private TileReader() {
    }

    /**
     * The value, or null when no event in the window contributed (0 for count, sum and count_distinct).
     *
     * @param fields the fields of the feature's state, as {@link ChunkFold}'s writes left them
     */
    public static Object value(AggregateFeature f, Window w, Map<String, String> fields, long now) {
        long from = w.lowerBound(now);
        // a decimal's sum and avg tiles hold sums of its unscaled values, whole numbers: added exactly
        boolean unscaled = f.value() != null && f.value().type() == FieldType.DECIMAL
                && (f.aggregation() == Aggregation.SUM || f.aggregation() == Aggregation.AVG);
        double sum = 0;
        BigDecimal exactSum = BigDecimal.ZERO;
        double sumOfSquares = 0;
        long count = 0;
        Double min = null;
        Double max = null;
        String minText = null;
        String maxText = null;
        long lastTs = Long.MIN_VALUE;
        Tile lastTile = null;
        Set<String> distinct = new HashSet<>();
        for (Map.Entry<String, String> entry : fields.entrySet()) {
            Tile.Field field = Tile.parse(entry.getKey());
            if (field == null || field.tile().ms() != w.tileMs() || field.tile().start() < from) {
                continue;
            }
            String v = entry.getValue();
            switch (field.part()) {
                case COUNT -> count += Math.round(Double.parseDouble(v));
                case SUM -> {
                    if (unscaled) {
                        exactSum = exactSum.add(new BigDecimal(v));
                    } else {
                        sum += Double.parseDouble(v);
                    }
                }
                case SUM_OF_SQUARES -> sumOfSquares += Double.parseDouble(v);
                case MIN -> {
                    double d = Double.parseDouble(v);
                    if (min == null || d < min) {
                        min = d;
                        minText = v;
                    }
                }
                case MAX -> {
                    double d = Double.parseDouble(v);
                    if (max == null || d > max) {
                        max = d;
                        maxText = v;
                    }
                }
                case DISTINCT -> distinct.add(field.value());
                case LAST_TS -> {
                    // a tie is settled within its tile: tiles of one size share no event time
                    long ts = Long.parseLong(v);
                    if (ts > lastTs) {
                        lastTs = ts;
                        lastTile = field.tile();
                    }
                }
                case LAST_ID, LAST_VALUE -> {
                    // the last value is read with LAST_TS; the id is for writes
                }
            }
        }
        FieldType type = f.resultType();
        return switch (f.aggregation()) {
            case COUNT -> count;
            case SUM -> switch (type) {
                case LONG -> Math.round(sum);
                case DECIMAL -> exactSum.movePointLeft(f.scale()).setScale(f.scale());
                default -> sum;
            };
            case AVG -> count == 0 ? null : (unscaled ? exactSum.movePointLeft(f.scale()).doubleValue() : sum) / count;
            case VARIANCE -> count == 0 ? null : Aggregation.variance(count, sum, sumOfSquares);
            case STDDEV -> count == 0 ? null : Math.sqrt(Aggregation.variance(count, sum, sumOfSquares));
            case MIN, FIRST_SEEN -> minText == null ? null : StoredValues.typed(type, f.scale(), minText);
            case MAX, LAST_SEEN -> maxText == null ? null : StoredValues.typed(type, f.scale(), maxText);
            case COUNT_DISTINCT -> distinct.size() + count; // a lifetime window keeps the count alone
            case LAST -> lastTile == null ? null : StoredValues.typed(type, f.scale(), fields.get(lastTile.field(Tile.Part.LAST_VALUE)));
            case LAST_N -> throw new IllegalStateException("last_n keeps recent values, not tiles");
        };
    }
}
