package dev.featurepipe.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

/** A plain HTTP client of the featurepipe API, as any user would write one. */
public final class Api {
    /** Status, headers and parsed JSON body of a response. */
    public record Reply(int status, JsonNode body, HttpHeaders headers) {
    }

    private final HttpClient http = HttpClient.newHttpClient();
    private final ObjectMapper json = new ObjectMapper();
    private final URI base;

    public Api(int port) {
        this.base = URI.create("http://127.0.0.1:" + port);
    }

    public Reply post(String path, String contentType, String body) {
        return send(HttpRequest.newBuilder(base.resolve(path)).header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    public Reply postJson(String path, Object body) {
        try {
            return post(path, "application/json", json.writeValueAsString(body));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Reply get(String path) {
        return send(HttpRequest.newBuilder(base.resolve(path)).GET().build());
    }

    /** The body of a GET as text (for /metrics). */
    public String getText(String path) {
        return exchange(HttpRequest.newBuilder(base.resolve(path)).GET().build()).body();
    }

    private Reply send(HttpRequest request) {
        HttpResponse<String> r = exchange(request);
        try {
            return new Reply(r.statusCode(), r.body().isEmpty() ? json.nullNode() : json.readTree(r.body()), r.headers());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private HttpResponse<String> exchange(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
