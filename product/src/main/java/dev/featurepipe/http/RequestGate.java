package dev.featurepipe.http;

import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * In front of the routes, in Jetty: refuses a URI over its limit (414), a path with a % not followed by two hex
 * digits (400; Jetty itself takes %uXXXX, which the router cannot decode), and a request beyond the most that may be
 * in flight (503 with Retry-After), so an overload is answered at once instead of piling up threads and memory.
 * /healthz is not counted: an overloaded process is still alive. Once {@link #refuseNewRequests} is called, every request but
 * /healthz, /readyz and /metrics is refused with 503, so that a stopping process only finishes what it holds.
 */
final class RequestGate extends Handler.Wrapper {
    private static final Set<String> ANSWERED_WHILE_STOPPING = Set.of("/healthz", "/readyz", "/metrics");

    private final int maxInFlight;
    private final Semaphore inFlight;
    private volatile boolean stopping;
    private final int maxUriBytes;
    private final JsonErrors errors;
    private final MeterRegistry metrics;

    RequestGate(int maxInFlight, int maxUriBytes, JsonErrors errors, MeterRegistry metrics) {
        this.maxInFlight = maxInFlight;
        this.inFlight = new Semaphore(maxInFlight);
        this.maxUriBytes = maxUriBytes;
        this.errors = errors;
        this.metrics = metrics;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        String pathQuery = request.getHttpURI().getPathQuery();
        if (pathQuery != null && pathQuery.length() > maxUriBytes) {
            refuse(response, callback, 414, "uri_too_long", "the request URI is longer than " + maxUriBytes / 1024
                    + " KiB (FP_HTTP_MAX_URI_KB)", Map.of());
            return true;
        }
        String path = request.getHttpURI().getPath();
        if (path != null && !wellEscaped(path)) {
            // Jetty takes %uXXXX, which the router's decoding then fails on
            refuse(response, callback, 400, "bad_escape", "the path holds a % not followed by two hex digits", Map.of());
            return true;
        }
        if ("/healthz".equals(path)) {
            return super.handle(request, response, callback);
        }
        if (stopping && !ANSWERED_WHILE_STOPPING.contains(path)) {
            refuse(response, callback, 503, "stopping", "this process is stopping; send the request again (to another"
                    + " process)", Map.of("Retry-After", "1"));
            return true;
        }
        if (!inFlight.tryAcquire()) {
            refuse(response, callback, 503, "in_flight", "the server is working on as many requests as it may"
                    + " (FP_HTTP_MAX_IN_FLIGHT); retry later", Map.of("Retry-After", "1"));
            return true;
        }
        Runnable release = once(inFlight::release);
        try {
            if (super.handle(request, response, Callback.from(callback, release))) {
                return true;
            }
            release.run();
            return false;
        } catch (Throwable e) {
            release.run();
            throw e;
        }
    }

    private static boolean wellEscaped(String path) {
        for (int i = path.indexOf('%'); i >= 0; i = path.indexOf('%', i + 1)) {
            if (i + 2 >= path.length() || Character.digit(path.charAt(i + 1), 16) < 0 || Character.digit(path.charAt(i + 2), 16) < 0) {
                return false;
            }
        }
        return true;
    }

    /** From now on, refuses every request but health, readiness and metrics. */
    void refuseNewRequests() {
        stopping = true;
    }

    /** Requests being answered now (but /healthz). */
    int inFlight() {
        return maxInFlight - inFlight.availablePermits();
    }

    private void refuse(Response response, Callback callback, int status, String reason, String message,
                        Map<String, String> headers) {
        metrics.counter("featurepipe.http.refused", "reason", reason).increment();
        errors.write(response, callback, status, message, headers);
    }

    private static Runnable once(Runnable action) {
        AtomicBoolean done = new AtomicBoolean();
        return () -> {
            if (done.compareAndSet(false, true)) {
                action.run();
            }
        };
    }
}
