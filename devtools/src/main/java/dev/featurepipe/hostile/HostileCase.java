package dev.featurepipe.hostile;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * One request of the hostile corpus, as one line of {@code corpus.jsonl}: its name and category, the API key it
 * carries, the setting it needs to be refused (none: every build refuses it), the status expected ({@code 4xx}:
 * any client error), and either the request (method, path, headers, body) or, for what an HTTP client cannot send,
 * the raw bytes on the wire. A body is a list of byte segments, each repeated {@code times}, so a big body stays
 * small in the file. {@value #KEY} in a header value or in the raw bytes stands for the secret of the named key.
 *
 * @param key {@code none}, or the name of a key the test configures: {@code all} (every scope), {@code ingest},
 *            {@code read}, {@code admin}, or {@code unknown} (a well-formed key that is not configured)
 * @param requires the FP_* setting whose feature refuses this case, or null
 */
public record HostileCase(String name, String category, String key, String requires, String expect, String method,
                          String path, Map<String, String> headers, List<Segment> body, List<Segment> raw) {
    public static final String KEY = "${key}";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Bytes repeated {@code times}. */
    public record Segment(byte[] bytes, int times) {
    }

    public boolean isRaw() {
        return raw != null;
    }

    /** Whether any client error will do, else the exact status. */
    public boolean anyClientError() {
        return expect.equals("4xx");
    }

    public byte[] bodyBytes() {
        return join(body);
    }

    public byte[] rawBytes() {
        return join(raw);
    }

    /** How many bytes the segments make. */
    public static long size(List<Segment> segments) {
        return segments.stream().mapToLong(s -> (long) s.bytes().length * s.times()).sum();
    }

    private static byte[] join(List<Segment> segments) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Segment s : segments) {
            for (int i = 0; i < s.times(); i++) {
                out.writeBytes(s.bytes());
            }
        }
        return out.toByteArray();
    }

    /** The case as one line of the corpus, its fields always in the same order. */
    public String toLine() {
        ObjectNode line = JSON.createObjectNode().put("name", name).put("category", category).put("key", key);
        if (requires != null) {
            line.put("requires", requires);
        }
        line.put("expect", expect);
        if (isRaw()) {
            line.set("raw", segments(raw));
        } else {
            line.put("method", method).put("path", path);
            ObjectNode h = line.putObject("headers");
            headers.forEach(h::put);
            line.set("body", segments(body));
        }
        try {
            return JSON.writeValueAsString(line);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ArrayNode segments(List<Segment> segments) {
        ArrayNode array = JSON.createArrayNode();
        for (Segment s : segments) {
            ObjectNode o = array.addObject().put("b64", Base64.getEncoder().encodeToString(s.bytes()));
            if (s.times() != 1) {
                o.put("times", s.times());
            }
        }
        return array;
    }

    /** A case from one line of the corpus. */
    public static HostileCase parse(String line) {
        JsonNode n;
        try {
            n = JSON.readTree(line);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String requires = n.hasNonNull("requires") ? n.get("requires").asText() : null;
        if (n.has("raw")) {
            return new HostileCase(n.get("name").asText(), n.get("category").asText(), n.get("key").asText(), requires,
                    n.get("expect").asText(), null, null, null, null, segments(n.get("raw")));
        }
        Map<String, String> headers = new LinkedHashMap<>();
        n.get("headers").fields().forEachRemaining(h -> headers.put(h.getKey(), h.getValue().asText()));
        return new HostileCase(n.get("name").asText(), n.get("category").asText(), n.get("key").asText(), requires,
                n.get("expect").asText(), n.get("method").asText(), n.get("path").asText(), headers,
                segments(n.get("body")), null);
    }

    private static List<Segment> segments(JsonNode array) {
        List<Segment> segments = new ArrayList<>();
        array.forEach(s -> segments.add(new Segment(Base64.getDecoder().decode(s.get("b64").asText()), s.path("times").asInt(1))));
        return segments;
    }

    /** The corpus's text: one line per case. */
    public static String render(List<HostileCase> cases) {
        StringBuilder text = new StringBuilder();
        cases.forEach(c -> text.append(c.toLine()).append('\n'));
        return text.toString();
    }

    /** The cases of a corpus's text. */
    public static List<HostileCase> parseAll(String text) {
        return text.lines().filter(l -> !l.isBlank()).map(HostileCase::parse).toList();
    }

    /** Writes the corpus's text gzipped: its huge bodies repeat, so the file stays small. */
    public static void write(Path file, List<HostileCase> cases) throws IOException {
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
            out.write(render(cases).getBytes(StandardCharsets.UTF_8));
        }
    }

    /** The text of a corpus that {@link #write} wrote. */
    public static String read(InputStream gzipped) throws IOException {
        try (InputStream in = new GZIPInputStream(gzipped)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
