package dev.featurepipe.http;

import java.util.Map;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Jetty's error handler: the refusals Jetty makes before Javalin sees a request (a request line or header it
 * cannot parse, a NUL or a bad %-escape in the path, a URI or headers over their size, a bad Content-Length) are
 * answered with the API's JSON error, not Jetty's HTML page.
 */
final class JettyErrors implements Request.Handler {
    private final JsonErrors errors;
    private final HttpApi.Options limits;

    JettyErrors(JsonErrors errors, HttpApi.Options limits) {
        this.errors = errors;
        this.limits = limits;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        int status = response.getStatus();
        String reason = (String) request.getAttribute(ErrorHandler.ERROR_MESSAGE);
        if (request.getAttribute(ErrorHandler.ERROR_EXCEPTION) instanceof HttpException e) {
            status = e.getCode();
            reason = reason == null ? e.getReason() : reason;
        }
        if (status < 400) {
            status = 500;
        }
        if (status == HttpStatus.HTTP_VERSION_NOT_SUPPORTED_505) {
            // the client's mistake, so a 4xx like every other refusal of a request
            errors.write(response, callback, 400, "the request's HTTP version is not supported; send HTTP/1.1 (or 1.0)",
                    Map.of());
            return true;
        }
        errors.write(response, callback, status, message(status, reason), Map.of());
        return true;
    }

    private String message(int status, String reason) {
        return switch (status) {
            case 414 -> "the request URI is too long: at most " + limits.maxUriBytes() / 1024
                    + " KiB (FP_HTTP_MAX_URI_KB), and the request line with the headers at most "
                    + limits.maxHeaderBytes() / 1024 + " KiB (FP_HTTP_MAX_HEADER_KB)";
            case 431 -> "the request line and headers are larger than " + limits.maxHeaderBytes() / 1024
                    + " KiB (FP_HTTP_MAX_HEADER_KB)";
            default -> {
                String name = HttpStatus.getMessage(status);
                if (reason == null || reason.equals(name)) {
                    reason = status == 400 ? "the URI or a header is malformed (a NUL or control character, a bad"
                            + " %-escape, a path above the root)" : null;
                }
                yield "the request is refused: " + name + (reason == null ? "" : ": " + reason);
            }
        };
    }
}
