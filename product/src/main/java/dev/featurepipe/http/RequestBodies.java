package dev.featurepipe.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.http.Context;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;

/**
 * Request bodies read as streams with their limits checked while they are read: the body size (a declared
 * Content-Length over it is refused before anything is read), and for JSON the nesting depth and the length of a
 * string, a name and a number, and the time it takes to arrive. A body is never held whole in memory.
 */
public final class RequestBodies {
    private static final int MAX_NESTING_DEPTH = 32;
    private static final int MAX_STRING_CHARS = 1 << 20;
    private static final int MAX_NAME_CHARS = 1024;
    private static final int MAX_NUMBER_CHARS = 100;

    private final ObjectMapper json;
    private final ObjectMapper readJson;
    private final long maxBytes;
    private final Duration maxTime;

    /**
     * @param json the API's mapper; its settings are kept, its parsers get the limits above
     * @param maxReadTokens most JSON tokens of a read request's body (see {@link #readTree})
     * @param maxTime longest a body may take to arrive, from the start of its reading
     */
    public RequestBodies(ObjectMapper json, long maxBytes, long maxReadTokens, Duration maxTime) {
        this.json = json.copyWith(limited(json.getFactory(), Long.MAX_VALUE));
        this.readJson = json.copyWith(limited(json.getFactory(), maxReadTokens));
        this.maxBytes = maxBytes;
        this.maxTime = maxTime;
    }

    private static JsonFactory limited(JsonFactory factory, long maxTokens) {
        return factory.rebuild().streamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(MAX_NESTING_DEPTH).maxStringLength(MAX_STRING_CHARS).maxNameLength(MAX_NAME_CHARS)
                .maxNumberLength(MAX_NUMBER_CHARS).maxTokenCount(maxTokens).build()).build();
    }

    /** The mapper whose parsers carry the limits. */
    public ObjectMapper json() {
        return json;
    }

    /** The body as a stream that refuses to go past the size limit (413) or the time limit (408). */
    public InputStream stream(Context ctx) {
        long declared = ctx.req().getContentLengthLong();
        if (declared > maxBytes) {
            throw tooLarge();
        }
        try {
            return new Limited(ctx.req().getInputStream(), maxBytes, System.nanoTime() + maxTime.toNanos());
        } catch (IOException e) {
            throw unreadable(e);
        }
    }

    /** The client's connection failed while its body was read. */
    public static ApiException unreadable(IOException e) {
        return new ApiException(400, "the body cannot be read: " + e.getMessage(), List.of());
    }

    /**
     * A read request's JSON body as a tree of at most {@code maxReadTokens} JSON tokens, so the tree's size is
     * bounded whatever the body holds.
     * @throws ApiException 400 when it is not one JSON value or goes past a limit, 413 when it is too large, 415 when
     *                      its headers say it is not UTF-8 JSON ({@link JsonBody})
     */
    public JsonNode readTree(Context ctx) {
        JsonBody.check(ctx, false);
        try {
            return readJson.readTree(stream(ctx));
        } catch (StreamConstraintsException e) {
            throw new ApiException(400, "the body goes past a limit: " + e.getOriginalMessage(), List.of());
        } catch (JsonProcessingException e) {
            throw new ApiException(400, "the body is not one JSON value: " + e.getOriginalMessage(), List.of());
        } catch (IOException e) {
            throw unreadable(e);
        }
    }

    private RefusedException tooLarge() {
        return new RefusedException(413, "body_too_large", "the body is larger than " + maxBytes / (1024 * 1024)
                + " MiB (FP_HTTP_MAX_BODY_MB)");
    }

    private RefusedException tooSlow() {
        return new RefusedException(408, "body_too_slow", "the body did not arrive within " + maxTime.toSeconds()
                + " s (FP_HTTP_BODY_TIMEOUT)");
    }

    /**
     * Counts what it reads and throws once past the size limit, so a body of unknown length is cut off too, or once
     * a read returns past the deadline: a body trickled byte by byte never times out the connection, which only
     * bounds a pause between two reads.
     */
    private final class Limited extends FilterInputStream {
        private long left;
        private final long deadlineNanos;

        Limited(InputStream in, long limit, long deadlineNanos) {
            super(in);
            this.left = limit;
            this.deadlineNanos = deadlineNanos;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                take(1);
            }
            return b;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            int n = super.read(buffer, offset, (int) Math.min(length, left + 1));
            if (n > 0) {
                take(n);
            }
            return n;
        }

        private void take(long n) {
            left -= n;
            if (left < 0) {
                throw tooLarge();
            }
            if (System.nanoTime() - deadlineNanos > 0) {
                throw tooSlow();
            }
        }
    }
}
