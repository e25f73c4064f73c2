package dev.featurepipe.serve;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.core.registry.EntityDef;
import dev.featurepipe.core.registry.FeatureSet;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.auth.Access;
import dev.featurepipe.auth.Scope;
import dev.featurepipe.http.ApiException;
import dev.featurepipe.http.HttpApi;
import dev.featurepipe.http.RequestBodies;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * {@code POST /get-online-features} as Feast's feature server answers it, so Feast HTTP clients can switch. A
 * feature reference is {@code <view>:<feature>} where the view is the entity's name or a feature set holding the
 * feature (or a bare feature name); {@code feature_service} names a feature set; the one key of
 * {@code entities} is an entity's key field. The answer has one column per feature after the entity key column:
 * values, Feast statuses and event timestamps, one per requested entity.
 */
public final class FeastRoutes implements HttpApi.Routes {
    private static final String NO_TIME = Instant.EPOCH.toString();

    private final FeatureService features;
    private final Registry registry;
    private final RequestBodies bodies;
    private final ObjectMapper json;

    public FeastRoutes(FeatureService features, Registry registry, RequestBodies bodies, ObjectMapper json) {
        this.features = features;
        this.registry = registry;
        this.bodies = bodies;
        this.json = json;
    }

    /** The answer: the column names, then one column per name. */
    record Response(Metadata metadata, List<Column> results) {
    }

    record Metadata(@JsonProperty("feature_names") List<String> featureNames) {
    }

    record Column(List<Object> values, List<String> statuses, @JsonProperty("event_timestamps") List<String> eventTimestamps) {
    }

    @Override
    public void accept(JavalinConfig config) {
        config.routes.post("/get-online-features", this::getOnlineFeatures, Scope.READ);
    }

    private void getOnlineFeatures(Context ctx) {
        JsonNode body = bodies.readTree(ctx);
        if (body == null || !body.path("entities").isObject() || body.get("entities").size() != 1) {
            throw new ApiException(400, "the body must be {\"features\": [...], \"entities\": {\"<key>\": [...]}}",
                    List.of("'entities' holds exactly one entity key with its values"));
        }
        Map.Entry<String, JsonNode> keyValues = body.get("entities").fields().next();
        EntityDef entity = registry.entityNames().stream().map(n -> registry.entity(n).orElseThrow())
                .filter(e -> e.keyField().equals(keyValues.getKey())).findFirst()
                .orElseThrow(() -> new ApiException(400, "unknown entity key '" + keyValues.getKey() + "'",
                        List.of("entity keys: " + registry.entityNames().stream()
                                .map(n -> registry.entity(n).orElseThrow().keyField()).toList())));
        Access.of(ctx).requireEntity(entity.name());
        if (!keyValues.getValue().isArray() || keyValues.getValue().isEmpty()) {
            throw new ApiException(400, "'entities." + keyValues.getKey() + "' must be a non-empty array", List.of());
        }
        List<String> ids = new ArrayList<>();
        for (JsonNode id : keyValues.getValue()) {
            if (!id.isTextual() && !id.isIntegralNumber()) {
                throw new ApiException(400, "'entities." + keyValues.getKey() + "' holds " + id + "; ids are strings or whole numbers",
                        List.of());
            }
            ids.add(id.asText());
        }
        JsonNode fullNamesNode = body.path("full_feature_names");
        if (!fullNamesNode.isMissingNode() && !fullNamesNode.isBoolean()) {
            throw new ApiException(400, "'full_feature_names' must be true or false", List.of());
        }
        boolean fullNames = fullNamesNode.asBoolean(false);
        List<String[]> refs = references(entity.name(), body); // {view, feature}
        List<FeatureVector> vectors = features.vectors(entity.name(), ids, refs.stream().map(r -> r[1]).toList());

        List<String> names = new ArrayList<>(List.of(keyValues.getKey()));
        List<Column> columns = new ArrayList<>();
        List<Object> keyColumn = new ArrayList<>();
        keyValues.getValue().forEach(keyColumn::add);
        columns.add(new Column(keyColumn, Collections.nCopies(ids.size(), "PRESENT"),
                Collections.nCopies(ids.size(), NO_TIME)));
        for (String[] ref : refs) {
            names.add(fullNames ? ref[0] + "__" + ref[1] : ref[1]);
            List<Object> values = new ArrayList<>(ids.size());
            List<String> statuses = new ArrayList<>(ids.size());
            List<String> times = new ArrayList<>(ids.size());
            for (FeatureVector v : vectors) {
                values.add(v.features().get(ref[1]));
                statuses.add(feastStatus(v.status().get(ref[1])));
                Long computedAt = v.computedAt().get(ref[1]);
                times.add(computedAt == null ? NO_TIME : Instant.ofEpochMilli(computedAt).toString());
            }
            columns.add(new Column(values, statuses, times));
        }
        HttpApi.respond(ctx, json, 200, new Response(new Metadata(names), columns));
    }

    /** The request's features as {view, feature}, from 'features' or from the feature set 'feature_service'. */
    private List<String[]> references(String entity, JsonNode body) {
        JsonNode list = body.path("features");
        JsonNode service = body.path("feature_service");
        if (list.isArray() == service.isTextual()) {
            throw new ApiException(400, "name the features either in 'features' (a list of \"<view>:<feature>\") or as"
                    + " a 'feature_service'", List.of());
        }
        if (service.isTextual()) {
            return features.wanted(entity, List.of(), service.asText()).stream()
                    .map(f -> new String[] {service.asText(), f}).toList();
        }
        List<String[]> refs = new ArrayList<>();
        for (JsonNode ref : list) {
            String text = ref.asText();
            int colon = text.indexOf(':');
            String view = colon < 0 ? entity : text.substring(0, colon);
            String feature = text.substring(colon + 1);
            boolean known = view.equals(entity) || registry.featureSet(view).map(FeatureSet::features)
                    .filter(f -> f.contains(feature)).isPresent();
            if (!known) {
                throw new ApiException(400, "unknown feature view '" + view + "' of feature '" + feature + "'",
                        List.of("a view is the entity's name ('" + entity + "') or a feature set that holds the feature"));
            }
            refs.add(new String[] {view, feature});
        }
        if (refs.isEmpty()) {
            throw new ApiException(400, "'features' lists no feature", List.of());
        }
        return refs;
    }

    /** Feast's names of our statuses; Feast has none for a store that did not answer in time, so that is INVALID. */
    private static String feastStatus(String status) {
        return switch (status) {
            case "ok" -> "PRESENT";
            case "missing" -> "NOT_FOUND";
            case "stale" -> "OUTSIDE_MAX_AGE";
            default -> "INVALID";
        };
    }
}
