package dev.featurepipe.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.FieldError;
import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.Ids;
import dev.featurepipe.core.NumberRule;
import dev.featurepipe.core.registry.EntityDef;
import dev.featurepipe.core.registry.EventTypeDef;
import dev.featurepipe.core.registry.FieldDef;
import dev.featurepipe.core.registry.Registry;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Checks one incoming JSON event against the registry and the {@link NumberRule} and turns it into a typed
 * {@link Event}. Every problem of the event is reported, each naming the field and the reason.
 */
public final class EventValidator {
    private final Registry registry;
    private final NumberRule numberRule;
    private final long maxFutureSkewMs;

    public EventValidator(Registry registry, NumberRule numberRule, long maxFutureSkewMs) {
        this.registry = registry;
        this.numberRule = numberRule;
        this.maxFutureSkewMs = maxFutureSkewMs;
    }

    /** The event, or the errors that make it invalid. */
    public record Result(Event event, List<FieldError> errors) {
        public boolean valid() {
            return errors.isEmpty();
        }
    }

    /**
     * @param index the event's position in the request, used in the errors
     * @param now the ingest time (epoch ms); a missing ts becomes it, a ts slightly in the future is clamped to it
     */
    public Result validate(int index, JsonNode node, long now) {
        List<FieldError> errors = new ArrayList<>();
        if (!node.isObject()) {
            errors.add(new FieldError(index, "$", "an event must be a JSON object"));
            return new Result(null, errors);
        }
        String id = text(index, node, "event_id", errors);
        if (id != null) {
            Ids.problem(id).ifPresent(p -> errors.add(new FieldError(index, "event_id", p)));
        }
        String typeName = text(index, node, "event_type", errors);
        long ts = timestamp(index, node.get("ts"), now, errors);
        EventTypeDef type = typeName == null ? null : registry.eventType(typeName).orElse(null);
        if (typeName != null && type == null) {
            errors.add(new FieldError(index, "event_type", "unknown event type '" + typeName + "' (known: "
                    + registry.eventTypes().stream().map(EventTypeDef::name).toList() + ")"));
        }
        if (type == null) {
            return new Result(null, errors);
        }
        EntityDef entity = registry.entity(type.entity()).orElseThrow();
        String entityId = entityId(index, node.get(entity.keyField()), entity.keyField(), errors);
        Map<String, Object> fields = new HashMap<>();
        for (FieldDef def : type.fields().values()) {
            JsonNode value = node.get(def.name());
            if (value == null || value.isNull()) {
                if (def.required()) {
                    errors.add(new FieldError(index, def.name(), "required by event type '" + type.name() + "'"));
                }
                continue;
            }
            Object typed = def.type() == FieldType.DECIMAL ? decimal(def, value) : typed(def.type(), value);
            if (typed == null) {
                errors.add(new FieldError(index, def.name(), "expected " + def.type().registryName() + ", got "
                        + describe(value)));
            } else if (typed instanceof Problem p) {
                errors.add(new FieldError(index, def.name(), p.reason()));
            } else {
                fields.put(def.name(), typed);
            }
        }
        Iterator<String> names = node.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!Event.ENVELOPE.contains(name) && !name.equals(entity.keyField()) && !type.fields().containsKey(name)) {
                errors.add(new FieldError(index, name, "not declared for event type '" + type.name() + "' (declared: "
                        + type.fields().keySet() + ")"));
            }
        }
        Event event = new Event(id, type.name(), entityId, ts, fields);
        errors.addAll(numberRule.violations(index, event));
        return errors.isEmpty() ? new Result(event, errors) : new Result(null, errors);
    }

    private static String text(int index, JsonNode node, String field, List<FieldError> errors) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            errors.add(new FieldError(index, field, "required"));
            return null;
        }
        if (!value.isTextual() || value.asText().isBlank()) {
            errors.add(new FieldError(index, field, "must be a non-empty string, got " + describe(value)));
            return null;
        }
        return value.asText();
    }

    private static String entityId(int index, JsonNode value, String keyField, List<FieldError> errors) {
        if (value == null || value.isNull()) {
            errors.add(new FieldError(index, keyField, "required: the entity key"));
            return null;
        }
        if (!value.isIntegralNumber() && !value.isTextual()) {
            errors.add(new FieldError(index, keyField, "must be a string or a whole number, got " + describe(value)));
            return null;
        }
        String id = value.asText();
        Optional<String> problem = Ids.problem(id);
        problem.ifPresent(p -> errors.add(new FieldError(index, keyField, p)));
        return problem.isPresent() ? null : id;
    }

    private long timestamp(int index, JsonNode value, long now, List<FieldError> errors) {
        if (value == null || value.isNull()) {
            return now;
        }
        long ts;
        if (value.isIntegralNumber() && value.canConvertToLong()) {
            ts = value.asLong();
        } else if (value.isTextual()) {
            try {
                ts = parseIso(value.asText());
            } catch (DateTimeParseException e) {
                errors.add(new FieldError(index, "ts", "not ISO-8601 with an offset (e.g. 2024-05-01T12:00:00Z): '"
                        + abbreviate(value.asText()) + "'"));
                return now;
            } catch (ArithmeticException | java.time.DateTimeException e) {
                errors.add(new FieldError(index, "ts", "out of range: '" + abbreviate(value.asText()) + "'"));
                return now;
            }
        } else {
            errors.add(new FieldError(index, "ts", "must be epoch milliseconds or an ISO-8601 string, got " + describe(value)));
            return now;
        }
        if (ts < 0) {
            errors.add(new FieldError(index, "ts", "before 1970: " + ts));
        } else if (ts - now > maxFutureSkewMs) {
            errors.add(new FieldError(index, "ts", "is " + (ts - now) + " ms in the future; at most "
                    + maxFutureSkewMs + " ms is allowed (FP_MAX_FUTURE_SKEW)"));
        }
        return Math.min(ts, now);
    }

    /** The field name as a metric tag: names a client invented are folded into one, so series stay bounded. */
    public String metricName(String field) {
        boolean known = field.equals("$") || Event.ENVELOPE.contains(field) || registry.allFields().containsKey(field)
                || registry.entityNames().stream().anyMatch(e -> registry.entity(e).orElseThrow().keyField().equals(field));
        return known ? field : "_undeclared";
    }

    private static long parseIso(String text) {
        try {
            return Instant.parse(text).toEpochMilli();
        } catch (DateTimeParseException e) {
            return OffsetDateTime.parse(text).toInstant().toEpochMilli();
        }
    }

    private static Object typed(FieldType type, JsonNode value) {
        return switch (type) {
            case STRING -> value.isTextual() ? value.asText() : null;
            case LONG -> value.isIntegralNumber() && value.canConvertToLong() ? value.asLong() : null;
            case DOUBLE -> value.isNumber() ? value.asDouble() : null; // finite or not: the number rule says
            case BOOLEAN -> value.isBoolean() ? value.asBoolean() : null;
            case DECIMAL -> throw new IllegalArgumentException("decimals are read by decimal()");
        };
    }

    /** Why a value that has the field's type cannot be taken. */
    private record Problem(String reason) {
    }

    /**
     * A decimal field's value (a JSON number, or a string holding one) at the field's scale; a value with more
     * digits after the point than the scale is refused, not rounded, as is one with more digits than 18 in all.
     */
    private static Object decimal(FieldDef def, JsonNode value) {
        if (!value.isNumber() && !value.isTextual()) {
            return null;
        }
        BigDecimal d;
        try {
            d = new BigDecimal(value.asText().trim());
        } catch (NumberFormatException e) {
            return null;
        }
        // the exponent can be huge ("1e999999999"): bound the digits before any arithmetic makes them
        if (d.signum() != 0 && (long) d.precision() - d.scale() > FieldDef.MAX_DIGITS - def.scale()) {
            return new Problem("has more than " + FieldDef.MAX_DIGITS + " digits (" + abbreviate(value.asText()) + ")");
        }
        if (d.stripTrailingZeros().scale() > def.scale()) {
            return new Problem("has more than " + def.scale() + " digits after the point (" + abbreviate(value.asText())
                    + "); the registry declares scale " + def.scale());
        }
        return d.setScale(def.scale());
    }

    private static String describe(JsonNode value) {
        return value.getNodeType().name().toLowerCase() + (value.isValueNode() ? " " + abbreviate(value.toString()) : "");
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
