package dev.featurepipe.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.auth.Access;
import dev.featurepipe.auth.Scope;
import dev.featurepipe.http.ApiException;
import dev.featurepipe.http.HttpApi;
import dev.featurepipe.http.RequestBodies;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** {@code GET /v1/features/{entity}/{id}} and {@code POST /v1/features} for many ids. */
public final class ServeRoutes implements HttpApi.Routes {
    private final FeatureService features;
    private final RequestBodies bodies;
    private final ObjectMapper json;
    private final Timer latency;

    public ServeRoutes(FeatureService features, RequestBodies bodies, ObjectMapper json, MeterRegistry metrics) {
        this.features = features;
        this.bodies = bodies;
        this.json = json;
        this.latency = Timer.builder("featurepipe.serve.latency").publishPercentileHistogram().register(metrics);
    }

    @Override
    public void accept(JavalinConfig config) {
        config.routes.get("/v1/features/{entity}/{id}", this::getOne, Scope.READ);
        config.routes.post("/v1/features", this::postMany, Scope.READ);
    }

    private void getOne(Context ctx) {
        Timer.Sample sample = Timer.start();
        String names = ctx.queryParam("features");
        List<String> wanted = names == null || names.isBlank() ? List.of()
                : Arrays.stream(names.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
        String entity = ctx.pathParam("entity");
        Access.of(ctx).requireEntity(entity);
        FeatureVector v = features.vectors(entity, List.of(ctx.pathParam("id")),
                features.wanted(entity, wanted, ctx.queryParam("feature_set"))).get(0);
        HttpApi.respond(ctx, json, 200, v);
        sample.stop(latency);
    }

    private static boolean allTextual(JsonNode array) {
        for (JsonNode n : array) {
            if (!n.isTextual()) {
                return false;
            }
        }
        return true;
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    private void postMany(Context ctx) {
        Timer.Sample sample = Timer.start();
        JsonNode body = bodies.readTree(ctx);
        if (body == null || !body.path("entity").isTextual() || !body.path("ids").isArray()) {
            throw new ApiException(400, "the body must be {\"entity\": \"...\", \"ids\": [...], \"features\": [...]}",
                    List.of("'entity' (string) and 'ids' (array) are required; 'features' or 'feature_set' is optional"));
        }
        List<String> ids = new ArrayList<>();
        for (JsonNode id : body.get("ids")) {
            if (!id.isTextual() && !id.isIntegralNumber()) {
                throw new ApiException(400, "'ids' holds " + abbreviate(id.toString()) + "; ids are strings or whole numbers", List.of());
            }
            ids.add(id.asText());
        }
        JsonNode featureNames = body.path("features");
        if (!featureNames.isMissingNode() && !(featureNames.isArray() && allTextual(featureNames))) {
            throw new ApiException(400, "'features' must be an array of feature names", List.of());
        }
        List<String> wanted = new ArrayList<>();
        featureNames.forEach(f -> wanted.add(f.asText()));
        String entity = body.get("entity").asText();
        Access.of(ctx).requireEntity(entity);
        JsonNode set = body.path("feature_set");
        if (!set.isMissingNode() && !set.isTextual()) {
            throw new ApiException(400, "'feature_set' must be the name of a feature set", List.of());
        }
        String featureSet = set.isTextual() ? set.asText() : null;
        List<FeatureVector> vectors = features.vectors(entity, ids, features.wanted(entity, wanted, featureSet));
        HttpApi.respond(ctx, json, 200, Map.of("entity", entity, "results", vectors));
        sample.stop(latency);
    }
}
