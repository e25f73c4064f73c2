package dev.featurepipe.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** HTTP/1.1 over a plain socket, for requests a normal client refuses to send (a NUL in the path, a bad length). */
final class RawHttp {
    /** The status, headers (lower-case names) and body of an answer. */
    record Answer(int status, Map<String, String> headers, String body) {
        JsonNode json() {
            try {
                return new ObjectMapper().readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException("not JSON: " + body, e);
            }
        }
    }

    private RawHttp() {
    }

    /** Sends {@code head} (the request line and headers, with the blank line) and reads the answer. */
    static Answer send(int port, String head) {
        return send(port, head.getBytes(StandardCharsets.ISO_8859_1), null);
    }

    /**
     * Sends {@code head}, then {@code body} from another thread (the server may answer before it has read it all,
     * and the write may then fail), and reads the answer.
     */
    static Answer send(int port, byte[] head, Body body) {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            out.write(head);
            out.flush();
            if (body != null) {
                Thread writer = new Thread(() -> {
                    try {
                        body.writeTo(out);
                        out.flush();
                    } catch (IOException e) {
                        // the server answered and closed before the whole body was sent: expected
                    }
                }, "raw-http-body");
                writer.setDaemon(true);
                writer.start();
            }
            return read(socket.getInputStream());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A request body written in parts. */
    interface Body {
        void writeTo(OutputStream out) throws IOException;
    }

    private static Answer read(InputStream in) throws IOException {
        String statusLine = line(in);
        Map<String, String> headers = new LinkedHashMap<>();
        for (String line = line(in); !line.isEmpty(); line = line(in)) {
            int colon = line.indexOf(':');
            headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
        }
        int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
        String body = new String(in.readNBytes(length), StandardCharsets.UTF_8);
        return new Answer(Integer.parseInt(statusLine.split(" ")[1]), headers, body);
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b = in.read(); b != '\n'; b = in.read()) {
            if (b < 0) {
                throw new IOException("the connection closed within a line: " + line);
            }
            if (b != '\r') {
                line.write(b);
            }
        }
        return line.toString(StandardCharsets.ISO_8859_1);
    }
}
