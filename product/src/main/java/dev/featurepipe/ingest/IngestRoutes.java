package dev.featurepipe.ingest;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.auth.Access;
import dev.featurepipe.auth.Scope;
import dev.featurepipe.http.ApiException;
import dev.featurepipe.http.HttpApi;
import dev.featurepipe.http.JsonBody;
import dev.featurepipe.http.RequestBodies;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code POST /v1/events}: one event, a JSON array, or NDJSON; {@code ?mode=partial} for bulk loaders. */
public final class IngestRoutes implements HttpApi.Routes {
    private final IngestService ingest;
    private final RequestBodies bodies;
    private final ObjectMapper json;

    public IngestRoutes(IngestService ingest, RequestBodies bodies, ObjectMapper json) {
        this.ingest = ingest;
        this.bodies = bodies;
        this.json = json;
    }

    @Override
    public void accept(JavalinConfig config) {
        config.routes.post("/v1/events", this::post, Scope.INGEST);
    }

    private void post(Context ctx) {
        boolean ndjson = JsonBody.check(ctx, true);
        String mode = ctx.queryParam("mode");
        if (mode != null && !mode.equals("partial") && !mode.equals("all")) {
            throw new ApiException(400, "mode must be 'all' (default) or 'partial', not '" + mode + "'",
                    List.of());
        }
        IngestService.Outcome outcome = ingest.ingest(bodies.stream(ctx), ndjson, "partial".equals(mode),
                Access.of(ctx));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("accepted", outcome.accepted());
        body.put("duplicates", outcome.duplicates());
        body.put("ids", outcome.ids());
        if (!outcome.rejected().isEmpty()) {
            body.put("rejected", outcome.rejected());
        }
        HttpApi.respond(ctx, json, 202, body);
    }
}
