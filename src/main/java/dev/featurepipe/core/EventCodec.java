package dev.featurepipe.core;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.featurepipe.core.registry.FieldDef;
import dev.featurepipe.core.registry.Registry;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Iterator;
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
        JsonNode node;
        try {
            node = json.readTree(payload);
        } catch (JsonProcessingException e) {
            throw new MalformedEventException("payload is not JSON: " + e.getOriginalMessage());
        }
        if (!node.hasNonNull("id") || !node.hasNonNull("type") || !node.hasNonNull("entity_id") || !node.has("ts")) {
            throw new MalformedEventException("payload lacks id, type, entity_id or ts: " + abbreviate(payload));
        }
        String type = node.get("type").asText();
        if (registry.eventType(type).isEmpty()) {
            throw new MalformedEventException("event type '" + type + "' is not in the registry");
        }
        Map<String, Object> fields = new HashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = node.path("fields").fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            FieldDef def = registry.allFields().get(e.getKey());
            if (def == null) {
                throw new MalformedEventException("field '" + e.getKey() + "' is not in the registry");
            }
            fields.put(e.getKey(), typed(def.type(), e.getValue()));
        }
        return new Event(node.get("id").asText(), type, node.get("entity_id").asText(),
                node.get("ts").asLong(), fields);
    }

    private static Object typed(FieldType type, JsonNode value) {
        return switch (type) {
            case STRING -> value.asText();
            case LONG -> value.asLong();
            case DOUBLE -> value.asDouble();
            case BOOLEAN -> value.asBoolean();
        };
    }

    private static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }

    /** A stream entry that cannot be read as an event (written by something else, or for another registry). */
    public static class MalformedEventException extends FeaturepipeException {
        public MalformedEventException(String message) {
            super(message);
        }
    }
}
