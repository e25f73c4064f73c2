package dev.featurepipe.ingest;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.featurepipe.core.FieldError;
import dev.featurepipe.http.ApiException;
import dev.featurepipe.http.RefusedException;
import dev.featurepipe.http.RequestBodies;
import java.io.IOException;
import java.io.InputStream;
import java.io.PushbackInputStream;
import java.util.List;

/**
 * Reads a request's events one at a time from its body, so that each limit holds as soon as it is crossed: the
 * event after the last one allowed stops the read, and an event may hold at most {@link #MAX_FIELDS} fields. A
 * value nested in an event is never a valid field value: it is skipped and kept only as an empty object or array,
 * so its size costs no memory.
 */
final class EventReader {
    static final int MAX_FIELDS = 1000;

    /** Takes each event as it is read, with its index in the request. */
    interface Sink {
        void accept(int index, JsonNode event);
    }

    private final ObjectMapper json;
    private final JsonNodeFactory nodes;
    private final boolean exactFloats;
    private final int maxEvents;

    /** @param json a mapper whose parsers carry the limits of {@link RequestBodies} */
    EventReader(ObjectMapper json, int maxEvents) {
        this.json = json;
        this.nodes = json.getNodeFactory();
        this.exactFloats = json.isEnabled(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
        this.maxEvents = maxEvents;
    }

    /**
     * @param ndjson one event per line; else one event or an array of them
     * @return how many events were read
     * @throws ApiException 400 for a body that is not JSON (or not one value per line), 413 for too many events
     */
    int read(InputStream body, boolean ndjson, Sink sink) {
        Reading reading = new Reading(sink);
        try (JsonParser p = json.createParser(utf8Only(body))) {
            if (ndjson) {
                reading.lines(p);
            } else {
                reading.document(p);
            }
            return reading.count;
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr();
            if (ndjson && e.getLocation() != null) {
                int line = e.getLocation().getLineNr();
                throw rejected("line " + line + " is not JSON: " + e.getOriginalMessage(),
                        List.of(new FieldError(reading.count, "$", "line " + line + " is not JSON")));
            }
            throw rejected("the body is not one JSON event or array (use application/x-ndjson for one event per line): "
                    + e.getOriginalMessage() + where, List.of());
        } catch (IOException e) {
            throw RequestBodies.unreadable(e);
        }
    }

    /**
     * JSON on the wire is UTF-8 (RFC 8259), but Jackson reads UTF-16 or UTF-32 where a byte-order mark or NUL bytes
     * start the text; refused here, so a body is never read in an encoding its sender did not mean.
     */
    private InputStream utf8Only(InputStream body) throws IOException {
        PushbackInputStream in = new PushbackInputStream(body, 4);
        byte[] start = in.readNBytes(4);
        in.unread(start);
        boolean wide = start.length >= 2 && (start[0] & 0xfe) == 0xfe && (start[1] & 0xfe) == 0xfe;
        for (byte b : start) {
            wide |= b == 0;
        }
        if (wide) {
            throw rejected("the body is not UTF-8 JSON (it starts like UTF-16 or UTF-32)", List.of());
        }
        return in;
    }

    /** One body's read: the events taken so far. */
    private final class Reading {
        private final Sink sink;
        private int count;

        Reading(Sink sink) {
            this.sink = sink;
        }

        void document(JsonParser p) throws IOException {
            JsonToken first = p.nextToken();
            if (first == JsonToken.START_ARRAY) {
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    take(p);
                }
            } else if (first != null) {
                take(p);
            }
            if (p.nextToken() != null) {
                throw rejected("the body holds more than one JSON value (use application/x-ndjson for one event per line)",
                        List.of());
            }
        }

        void lines(JsonParser p) throws IOException {
            int previousLine = 0;
            while (p.nextToken() != null) {
                int line = p.currentTokenLocation().getLineNr();
                if (line == previousLine) {
                    throw rejected("line " + line + " holds more than one JSON value",
                            List.of(new FieldError(count, "$", "one event per line")));
                }
                take(p);
                previousLine = p.currentLocation().getLineNr();
                if (previousLine != line) {
                    throw rejected("the event of line " + line + " goes on to line " + previousLine,
                            List.of(new FieldError(count - 1, "$", "one event per line")));
                }
            }
        }

        private void take(JsonParser p) throws IOException {
            if (count == maxEvents) {
                throw new RefusedException(413, "too_many_events", "the request holds more than " + maxEvents
                        + " events, the most allowed per request (FP_INGEST_MAX_EVENTS)");
            }
            int index = count++;
            sink.accept(index, p.currentToken() == JsonToken.START_OBJECT ? event(index, p) : value(p));
        }
    }

    private ObjectNode event(int index, JsonParser p) throws IOException {
        ObjectNode event = nodes.objectNode();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            if (event.size() == MAX_FIELDS) {
                throw rejected("event " + index + " has more than " + MAX_FIELDS + " fields",
                        List.of(new FieldError(index, "$", "more than " + MAX_FIELDS + " fields")));
            }
            String name = p.currentName();
            p.nextToken();
            event.set(name, value(p));
        }
        return event;
    }

    /** A scalar as the API's mapper reads it; an object or array skipped, as an empty one. */
    private JsonNode value(JsonParser p) throws IOException {
        return switch (p.currentToken()) {
            case START_OBJECT -> {
                p.skipChildren();
                yield nodes.objectNode();
            }
            case START_ARRAY -> {
                p.skipChildren();
                yield nodes.arrayNode();
            }
            case VALUE_STRING -> nodes.textNode(p.getText());
            case VALUE_NUMBER_INT -> switch (p.getNumberType()) {
                case INT -> nodes.numberNode(p.getIntValue());
                case LONG -> nodes.numberNode(p.getLongValue());
                default -> nodes.numberNode(p.getBigIntegerValue());
            };
            case VALUE_NUMBER_FLOAT -> exactFloats ? nodes.numberNode(p.getDecimalValue()) : nodes.numberNode(p.getDoubleValue());
            case VALUE_TRUE, VALUE_FALSE -> nodes.booleanNode(p.getBooleanValue());
            case VALUE_NULL -> nodes.nullNode();
            default -> throw new IllegalStateException("unexpected JSON token " + p.currentToken());
        };
    }

    private static ApiException rejected(String message, List<FieldError> errors) {
        return new ApiException(400, message, errors);
    }
}
