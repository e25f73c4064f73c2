package dev.featurepipe.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/** The API's error body, {@code {"error": "...", "details": [...]}}, for Javalin's routes and for Jetty's own refusals. */
final class JsonErrors {
    private final ObjectMapper json;
    private final MeterRegistry metrics;

    JsonErrors(ObjectMapper json, MeterRegistry metrics) {
        this.json = json;
        this.metrics = metrics;
    }

    ObjectNode body(int status, String message, List<?> details) {
        metrics.counter("featurepipe.http.errors", "status", Integer.toString(status)).increment();
        ObjectNode body = json.createObjectNode().put("error", message);
        ArrayNode array = body.putArray("details");
        details.forEach(d -> array.add(json.valueToTree(d)));
        return body;
    }

    /** Writes the error as the whole answer of a request Javalin does not see. */
    void write(Response response, Callback callback, int status, String message, Map<String, String> headers) {
        byte[] bytes;
        try {
            bytes = json.writeValueAsBytes(body(status, message, List.of()));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("an error body cannot be written as JSON", e);
        }
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
        headers.forEach(response.getHeaders()::put);
        response.write(true, ByteBuffer.wrap(bytes), callback);
    }
}
