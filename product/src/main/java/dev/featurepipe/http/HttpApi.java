package dev.featurepipe.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.auth.Authenticator;
import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.StoreUnavailableException;
import io.javalin.Javalin;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP server of the process: the routes of the roles it runs, health and metrics, and one error mapping:
 * every error is {@code {"error": "...", "details": [...]}}, a client mistake a 4xx, an unreachable store a
 * 503 with Retry-After, and nothing else a stack trace.
 */
public final class HttpApi implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HttpApi.class);
    /** Request attribute set once an error body is written, so the 404 fallback does not replace it. */
    private static final String ERROR_WRITTEN = "featurepipe.error";

    /** Adds a role's routes to the server. */
    public interface Routes extends Consumer<JavalinConfig> {
    }

    /** Reports whether each store a role depends on answers, and why a role stopped if one did; used by /readyz. */
    public interface ReadinessCheck {
        Readiness check();
    }

    /** Per store whether it answers; per role that stopped on its own, why; whether the read paths have run. */
    public record Readiness(Map<String, Boolean> stores, Map<String, String> stoppedRoles, boolean warm) {
        public boolean ready() {
            return warm && stoppedRoles.isEmpty() && stores.values().stream().allMatch(Boolean::booleanValue);
        }
    }

    private final Javalin app;
    private final ObjectMapper json;
    private final JsonErrors errors;
    private final Options options;
    private final RequestGate gate;
    private volatile boolean stopping;

    /**
     * Where the server listens and its limits: the largest body it reads, the most requests it works on at once,
     * the largest request line with headers, the longest URI.
     */
    public record Options(String host, int port, long maxBodyBytes, int maxInFlight, int maxHeaderBytes, int maxUriBytes) {
    }

    public HttpApi(Options options, List<Routes> routes, ReadinessCheck readiness, Authenticator auth,
                   PrometheusMeterRegistry metrics, ObjectMapper json) {
        this.json = json;
        this.errors = new JsonErrors(json, metrics);
        this.options = options;
        this.gate = new RequestGate(options.maxInFlight(), options.maxUriBytes(), errors, metrics);
        this.app = Javalin.create(config -> {
            config.jetty.host = options.host();
            config.jetty.port = options.port();
            config.http.maxRequestSize = options.maxBodyBytes();
            config.jetty.modifyHttpConfiguration(http -> http.setRequestHeaderSize(options.maxHeaderBytes()));
            config.jetty.modifyServer(server -> {
                server.setErrorHandler(new JettyErrors(errors, options));
                server.insertHandler(gate);
            });
            config.startup.showJavalinBanner = false;
            config.routes.beforeMatched(auth);
            routes.forEach(r -> r.accept(config));
            config.routes.get("/healthz", ctx -> respond(ctx, json, 200, Map.of("status", "ok")));
            config.routes.get("/readyz", ctx -> ready(ctx, readiness.check()), auth.monitoringScopes());
            config.routes.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4").result(metrics.scrape()),
                    auth.monitoringScopes());
            config.routes.exception(ApiException.class, (e, ctx) -> {
                e.headers().forEach(ctx::header);
                error(ctx, e.status(), e.getMessage(), e.details());
            });
            config.routes.exception(RefusedException.class, (e, ctx) -> {
                metrics.counter("featurepipe.http.refused", "reason", e.reason()).increment();
                e.headers().forEach(ctx::header);
                error(ctx, e.status(), e.getMessage(), e.details());
            });
            config.routes.exception(HttpResponseException.class, (e, ctx) ->
                    error(ctx, e.getStatus(), e.getMessage() + (e.getStatus() == 413
                            ? " (the body is larger than FP_HTTP_MAX_BODY_MB)" : ""), List.of()));
            config.routes.exception(StoreUnavailableException.class, (e, ctx) -> {
                ctx.header("Retry-After", "1");
                error(ctx, 503, "a store is unavailable, retry later: " + e.getMessage(), List.of());
            });
            config.routes.exception(ClientGoneException.class, (e, ctx) -> {
                metrics.counter("featurepipe.http.errors", "status", "client_gone").increment();
                log.debug("http: {} {}: the client went away while the answer was written", ctx.method(), ctx.path(), e);
            });
            config.routes.exception(Exception.class, (e, ctx) -> {
                log.error("http: {} {} failed", ctx.method(), ctx.path(), e);
                error(ctx, 500, "internal error: " + e.getClass().getSimpleName(), List.of());
            });
            config.routes.error(404, "*", ctx -> {
                if (ctx.attribute(ERROR_WRITTEN) == null) {
                    error(ctx, 404, "no such endpoint: " + ctx.method() + " " + ctx.path(), List.of());
                }
            });
            config.routes.error(405, "*", ctx -> error(ctx, 405, "method " + ctx.method() + " not allowed on " + ctx.path(), List.of()));
        });
    }

    /** @throws FeaturepipeException when the address cannot be bound, naming it */
    public HttpApi start() {
        try {
            app.start();
        } catch (RuntimeException e) {
            throw new FeaturepipeException("the HTTP API cannot listen on " + options.host() + ":" + options.port()
                    + " (is the port taken? set FP_HTTP_PORT): " + rootMessage(e), e);
        }
        log.info("http: listening on port {}", app.port());
        return this;
    }

    public int port() {
        return app.port();
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        return root.getMessage();
    }

    private void ready(Context ctx, Readiness readiness) {
        boolean ready = readiness.ready() && !stopping;
        respond(ctx, json, ready ? 200 : 503, Map.of("ready", ready, "stores", readiness.stores(),
                "stopped", readiness.stoppedRoles(), "warm", readiness.warm(), "stopping", stopping));
    }

    /**
     * The first step of a graceful stop: /readyz fails and every new request is refused with 503 from now on, and
     * this waits up to {@code grace} for the requests being answered to finish. Returns how many had not.
     */
    public int drain(Duration grace) {
        stopping = true;
        gate.refuseNewRequests();
        long deadline = System.nanoTime() + grace.toNanos();
        while (gate.inFlight() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return gate.inFlight();
    }

    private void error(Context ctx, int status, String message, List<?> details) {
        ctx.attribute(ERROR_WRITTEN, true);
        respond(ctx, json, status, errors.body(status, message, details));
    }

    /**
     * Answers {@code value} as JSON bytes written into the response. {@code ctx.json} would build a String, encode
     * it, and copy it through a 32 KB buffer allocated per answer: most of a feature read's garbage.
     */
    public static void respond(Context ctx, ObjectMapper json, int status, Object value) {
        byte[] body;
        try {
            body = json.writeValueAsBytes(value); // whole before anything is sent: a failure is a 500, not half an answer
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the answer cannot be written as JSON", e);
        }
        ctx.status(status).contentType("application/json");
        try (OutputStream out = ctx.outputStream()) {
            out.write(body);
        } catch (IOException e) {
            throw new ClientGoneException(e);
        }
    }

    /** The answer could not be written: the client closed its connection. */
    private static final class ClientGoneException extends RuntimeException {
        ClientGoneException(IOException cause) {
            super(cause);
        }
    }

    @Override
    public void close() {
        app.stop();
    }
}
