package dev.featurepipe.http;

import io.javalin.http.Context;
import java.util.List;
import java.util.Locale;

/**
 * What a request body the API reads must say it is: {@code application/json} (or no Content-Type at all), or
 * NDJSON where a route takes it; in UTF-8 if a charset is named; with no Content-Encoding and no transfer coding but
 * chunked. Anything else is a 415, so a body is never read as something its sender did not send.
 */
public final class JsonBody {
    public static final String JSON = "application/json";
    public static final String NDJSON = "application/x-ndjson";

    private JsonBody() {
    }

    /**
     * @return whether the body is NDJSON (only when {@code ndjsonAllowed})
     * @throws ApiException 415 naming the header that does not fit
     */
    public static boolean check(Context ctx, boolean ndjsonAllowed) {
        String encoding = ctx.header("Content-Encoding");
        if (encoding != null && !encoding.isBlank() && !encoding.trim().equalsIgnoreCase("identity")) {
            throw new ApiException(415, "Content-Encoding '" + abbreviate(encoding) + "' is not read; send the body as it is",
                    List.of());
        }
        String transfer = ctx.header("Transfer-Encoding");
        if (transfer != null && !transfer.trim().equalsIgnoreCase("chunked")) {
            // Jetty takes the chunks of "gzip, chunked" and hands the body on still gzipped
            throw new ApiException(415, "Transfer-Encoding '" + abbreviate(transfer) + "' is not read; send the body"
                    + " chunked or with a Content-Length", List.of());
        }
        String header = ctx.header("Content-Type");
        if (header == null || header.isBlank()) {
            return false;
        }
        String[] parts = header.split(";");
        String type = parts[0].trim().toLowerCase(Locale.ROOT);
        boolean ndjson = ndjsonAllowed && type.equals(NDJSON);
        if (!type.equals(JSON) && !ndjson) {
            throw new ApiException(415, "Content-Type '" + abbreviate(header) + "' is not read here; send " + JSON
                    + (ndjsonAllowed ? " or " + NDJSON : ""), List.of());
        }
        for (int i = 1; i < parts.length; i++) {
            String[] parameter = parts[i].split("=", 2);
            if (parameter[0].trim().equalsIgnoreCase("charset") && (parameter.length < 2
                    || !parameter[1].trim().replace("\"", "").equalsIgnoreCase("utf-8"))) {
                throw new ApiException(415, "Content-Type '" + abbreviate(header) + "': the body must be UTF-8", List.of());
            }
        }
        return ndjson;
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }
}
