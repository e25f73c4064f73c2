package dev.featurepipe.core;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import dev.featurepipe.core.registry.FieldDef;
import dev.featurepipe.core.registry.Registry;
import java.io.IOException;
import java.math.BigDecimal;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;

/** The form of an event inside the stream: compact JSON, decoded back into typed fields by the registry. */
public final class EventCodec {
    private final ObjectMapper json;
    private final Registry registry;

    public EventCodec(ObjectMapper json, Registry registry) {
        this.json = json;
        this.registry = registry;
    }

    public String encode(Event event) {
        StringWriter text = new StringWriter(256);
        try (JsonGenerator out = json.getFactory().createGenerator(text)) {
            out.writeStartObject();
            out.writeStringField("id", event.id());
            out.writeStringField("type", event.type());
            out.writeStringField("entity_id", event.entityId());
            out.writeNumberField("ts", event.ts());
            out.writeObjectFieldStart("fields");
            for (Map.Entry<String, Object> field : event.fields().entrySet()) {
                out.writeFieldName(field.getKey());
                if (field.getValue() instanceof String s) {
                    out.writeString(s);
                } else if (field.getValue() instanceof Long l) {
                    out.writeNumber(l);
                } else if (field.getValue() instanceof Double d) {
                    out.writeNumber(d);
                } else if (field.getValue() instanceof BigDecimal d) {
                    out.writeString(d.toPlainString()); // as text: no JSON reader in between turns it into a double
                } else {
                    out.writeBoolean((Boolean) field.getValue());
                }
            }
            out.writeEndObject();
            out.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // writing to memory
        }
        return text.toString();
    }

    /** @throws MalformedEventException when the payload is not an event this registry knows */
    public Event decode(String payload) {
        String id = null;
        String type = null;
        String entityId = null;
        Long ts = null;
        Map<String, Object> fields = new HashMap<>();
        try (JsonParser in = json.getFactory().createParser(payload)) {
            if (in.nextToken() != JsonToken.START_OBJECT) {
                throw new MalformedEventException("payload is not a JSON object");
            }
            for (String name = in.nextFieldName(); name != null; name = in.nextFieldName()) {
                JsonToken value = in.nextToken();
                switch (name) {
                    case "id" -> id = in.getValueAsString();
                    case "type" -> type = in.getValueAsString();
                    case "entity_id" -> entityId = in.getValueAsString();
                    case "ts" -> ts = value.isNumeric() ? in.getLongValue() : null;
                    case "fields" -> readFields(in, fields);
                    default -> in.skipChildren();
                }
            }
        } catch (IOException e) {
            throw new MalformedEventException("payload is not JSON" + where(e));
        }
        if (id == null || type == null || entityId == null || ts == null) {
            throw new MalformedEventException("payload lacks id, type, entity_id or ts");
        }
        if (registry.eventType(type).isEmpty()) {
            throw new MalformedEventException("event type '" + type + "' is not in the registry");
        }
        return new Event(id, type, entityId, ts, fields);
    }

    private void readFields(JsonParser in, Map<String, Object> fields) throws IOException {
        if (in.currentToken() != JsonToken.START_OBJECT) {
            throw new MalformedEventException("'fields' is not an object");
        }
        for (String name = in.nextFieldName(); name != null; name = in.nextFieldName()) {
            FieldDef def = registry.allFields().get(name);
            if (def == null) {
                throw new MalformedEventException("field '" + name + "' is not in the registry");
            }
            JsonToken token = in.nextToken();
            if (token != JsonToken.VALUE_NULL) {
                if (!fits(token, def.type())) {
                    // the registry changed the field's type since ingest: Jackson would coerce 2.55 to 2, "x" to 0
                    throw new MalformedEventException("field '" + name + "' holds " + kind(token) + ", not a "
                            + def.type().registryName() + " (its type changed in the registry since ingest?)");
                }
                fields.put(name, switch (def.type()) {
                    case STRING -> in.getText();
                    case LONG -> in.getLongValue();
                    case DOUBLE -> in.getDoubleValue();
                    case BOOLEAN -> in.getBooleanValue();
                    case DECIMAL -> decimal(in.getText(), def);
                });
            }
        }
    }

    /** Whether a stored value of this JSON kind is of the field's type; a whole number is also a double. */
    private static boolean fits(JsonToken token, FieldType type) {
        return switch (type) {
            case STRING -> token == JsonToken.VALUE_STRING;
            case LONG -> token == JsonToken.VALUE_NUMBER_INT;
            case DOUBLE -> token.isNumeric();
            case BOOLEAN -> token.isBoolean();
            case DECIMAL -> token.isNumeric() || token == JsonToken.VALUE_STRING;
        };
    }

    private static String kind(JsonToken token) {
        return token == JsonToken.VALUE_NUMBER_INT ? "a whole number" : token.isNumeric() ? "a fractional number"
                : token.isBoolean() ? "a boolean" : token == JsonToken.VALUE_STRING ? "a string" : "a JSON " + token;
    }

    private static BigDecimal decimal(String text, FieldDef def) {
        try {
            return new BigDecimal(text).setScale(def.scale());
        } catch (NumberFormatException | ArithmeticException e) {
            throw new MalformedEventException("field '" + def.name() + "' is not a decimal of scale " + def.scale());
        }
    }

    /** Where the parser stopped; not its message, which quotes the payload. */
    private static String where(IOException e) {
        return e instanceof JsonProcessingException j && j.getLocation() != null
                ? " (at column " + j.getLocation().getColumnNr() + ")" : "";
    }

    /** A stream entry that cannot be read as an event (written by something else, or for another registry). */
    public static class MalformedEventException extends FeaturepipeException {
        public MalformedEventException(String message) {
            super(message);
        }
    }
}
