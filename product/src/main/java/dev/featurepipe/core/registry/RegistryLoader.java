package dev.featurepipe.core.registry;

import dev.featurepipe.core.Durations;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.expr.Expr;
import dev.featurepipe.core.expr.ExprException;
import dev.featurepipe.core.expr.ExprParser;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.nodes.Node;

/**
 * Parses a registry YAML file into a {@link Registry}, collecting every error with its line. The format is
 * documented in the README ("Feature registry").
 */
public final class RegistryLoader {
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]*");
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{[^}]*}");
    private static final Duration DEFAULT_BATCH_TTL = Duration.ofDays(2);
    private static final Duration DEFAULT_BATCH_REFRESH = Duration.ofHours(1);

    private final YamlNodes yaml = new YamlNodes();
    private final Map<String, EntityDef> entities = new LinkedHashMap<>();
    private final Map<String, EventTypeDef> eventTypes = new LinkedHashMap<>();
    private final Map<String, FieldDef> fieldsByName = new LinkedHashMap<>();
    private final Map<String, Map<String, Integer>> servedNames = new LinkedHashMap<>();

    private RegistryLoader() {
    }

    public static Registry load(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new RegistryException(file.toString(), List.of(new RegistryError(0, "cannot read: " + e.getMessage())));
        }
        return parse(text, file.toString());
    }

    public static Registry parse(String text, String source) {
        Node root;
        try {
            root = new Yaml().compose(new StringReader(text));
        } catch (MarkedYAMLException e) {
            int line = e.getProblemMark() == null ? 0 : e.getProblemMark().getLine() + 1;
            throw new RegistryException(source, List.of(new RegistryError(line, "not valid YAML: " + e.getProblem())));
        }
        if (root == null) {
            throw new RegistryException(source, List.of(new RegistryError(1, "the file is empty")));
        }
        return new RegistryLoader().read(root, source);
    }

    private Registry read(Node root, String source) {
        Map<String, Node> top = yaml.mapping(root, "the registry");
        yaml.onlyKeys(top, root, "the registry", List.of("entities", "events", "features", "profile", "feature_sets"));
        if (!top.containsKey("entities") || !top.containsKey("events")) {
            yaml.error(root, "the registry needs 'entities' and 'events'");
        }
        Optional.ofNullable(top.get("entities")).ifPresent(this::readEntities);
        Optional.ofNullable(top.get("events")).ifPresent(this::readEvents);
        List<AggregateFeature> aggregates = new ArrayList<>();
        List<BatchFeature> batches = new ArrayList<>();
        Optional.ofNullable(top.get("features")).ifPresent(n -> yaml.sequence(n, "'features'")
                .forEach(f -> readFeature(f, aggregates, batches)));
        List<ProfileFeature> profiles = new ArrayList<>();
        Optional.ofNullable(top.get("profile")).ifPresent(n -> yaml.sequence(n, "'profile'")
                .forEach(p -> readProfile(p).ifPresent(profiles::add)));
        List<FeatureSet> sets = new ArrayList<>();
        Optional.ofNullable(top.get("feature_sets")).ifPresent(n -> yaml.mapping(n, "'feature_sets'")
                .forEach((name, def) -> readFeatureSet(name, def).ifPresent(sets::add)));
        if (!yaml.errors().isEmpty()) {
            throw new RegistryException(source, yaml.errors());
        }
        return new Registry(entities, eventTypes, aggregates, profiles, batches, sets);
    }

    private void readEntities(Node node) {
        yaml.mapping(node, "'entities'").forEach((name, def) -> {
            checkName(def, name, "entity");
            Map<String, Node> map = yaml.mapping(def, "entity '" + name + "'");
            yaml.onlyKeys(map, def, "entity '" + name + "'", List.of("key", "description"));
            yaml.required(map, def, "key", "entity '" + name + "'").ifPresent(key -> {
                checkName(def, key, "key field");
                entities.put(name, new EntityDef(name, key));
                servedNames.put(name, new LinkedHashMap<>());
            });
        });
    }

    private void readEvents(Node node) {
        yaml.mapping(node, "'events'").forEach((name, def) -> {
            String what = "event type '" + name + "'";
            checkName(def, name, "event type");
            Map<String, Node> map = yaml.mapping(def, what);
            yaml.onlyKeys(map, def, what, List.of("entity", "fields", "description"));
            Optional<String> entity = entityOf(map, def, what);
            Map<String, FieldDef> fields = new LinkedHashMap<>();
            Optional.ofNullable(map.get("fields")).ifPresent(f ->
                    yaml.mapping(f, what + " fields").forEach((field, spec) -> readField(what, field, spec, entity)
                            .ifPresent(d -> fields.put(field, d))));
            entity.ifPresent(e -> eventTypes.put(name, new EventTypeDef(name, e, fields)));
        });
    }

    /**
     * A field is {@code name: type} (optional) or {@code name: {type: T, required: true}}; a decimal names its
     * scale: {@code {type: decimal, scale: 2}}.
     */
    private Optional<FieldDef> readField(String owner, String field, Node spec, Optional<String> entity) {
        String what = "field '" + field + "' of " + owner;
        checkName(spec, field, "field");
        if (Event.ENVELOPE.contains(field) || field.equals(Event.INGESTED_AT) || entity.map(entities::get).map(EntityDef::keyField).filter(field::equals).isPresent()) {
            yaml.error(spec, what + " is a name every event has already (event_id, event_type, ts, entity_id, ingested_at and the entity key); rename it");
            return Optional.empty();
        }
        Optional<String> typeName;
        Optional<String> scaleText = Optional.empty();
        Node scaleNode = spec;
        boolean required = false;
        if (spec instanceof org.yaml.snakeyaml.nodes.ScalarNode) {
            typeName = yaml.scalar(spec, what);
        } else {
            Map<String, Node> map = yaml.mapping(spec, what);
            yaml.onlyKeys(map, spec, what, List.of("type", "required", "scale", "description"));
            typeName = yaml.required(map, spec, "type", what);
            scaleText = yaml.optional(map, "scale", what);
            scaleNode = map.get("scale");
            Optional<String> req = yaml.optional(map, "required", what);
            if (req.isPresent() && !req.get().equals("true") && !req.get().equals("false")) {
                yaml.error(map.get("required"), what + ": 'required' must be true or false");
            }
            required = req.map(Boolean::parseBoolean).orElse(false);
        }
        Optional<FieldType> type = typeName.flatMap(t ->
                oneOf(spec, t, what + " has unknown type", FieldType.values(), FieldType::registryName));
        if (type.isEmpty()) {
            return Optional.empty();
        }
        int scale = readScale(scaleNode, scaleText, type.get(), what);
        FieldDef def = new FieldDef(field, type.get(), required, scale);
        FieldDef earlier = fieldsByName.putIfAbsent(field, def);
        if (earlier != null && earlier.type() == def.type() && earlier.scale() != def.scale()) {
            yaml.error(spec, what + " has scale " + def.scale() + " but another event type declares it with scale "
                    + earlier.scale() + "; a field name has one type in the whole registry");
        }
        if (earlier != null && earlier.type() != def.type()) {
            yaml.error(spec, what + " is " + def.type().registryName() + " but another event type declares it "
                    + earlier.type().registryName() + "; a field name has one type in the whole registry");
        }
        return Optional.of(def);
    }

    /** The scale of a decimal value: its field's, negated or not (any other arithmetic gives a double). */
    private static int decimalScale(Expr value, EventTypeDef event) {
        return value instanceof Expr.Negate n ? decimalScale(n.operand(), event)
                : event.fields().get(((Expr.Field) value).name()).scale();
    }

    /** The scale of a decimal field: required, 0 to 18; no other type takes one. */
    private int readScale(Node node, Optional<String> text, FieldType type, String what) {
        if (type != FieldType.DECIMAL) {
            text.ifPresent(t -> yaml.error(node, what + ": only a decimal takes a scale"));
            return 0;
        }
        if (text.isEmpty()) {
            yaml.error(node, what + " is a decimal and needs its scale, the digits after the point: {type: decimal, scale: 2}");
            return 0;
        }
        try {
            int scale = Integer.parseInt(text.get());
            if (scale >= 0 && scale <= FieldDef.MAX_DIGITS) {
                return scale;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        yaml.error(node, what + ": scale must be a whole number from 0 to " + FieldDef.MAX_DIGITS + ", not '" + text.get() + "'");
        return 0;
    }

    /** A feature is an aggregate over events ({@code kind: aggregate}, the default) or {@code kind: batch}. */
    private void readFeature(Node node, List<AggregateFeature> aggregates, List<BatchFeature> batches) {
        Map<String, Node> map = yaml.mapping(node, "a feature");
        Optional<String> name = yaml.required(map, node, "name", "a feature");
        String what = "feature '" + name.orElse("?") + "'";
        name.ifPresent(n -> checkName(node, n, "feature"));
        String kind = yaml.optional(map, "kind", what).orElse("aggregate");
        switch (kind) {
            case "aggregate" -> readAggregate(node, map, name, what).ifPresent(aggregates::add);
            case "batch" -> readBatch(node, map, name, what).ifPresent(batches::add);
            default -> yaml.error(map.get("kind"), what + " has unknown kind '" + kind + "' (known: aggregate, batch)");
        }
    }

    private Optional<AggregateFeature> readAggregate(Node node, Map<String, Node> map, Optional<String> name, String what) {
        yaml.onlyKeys(map, node, what, List.of("name", "kind", "event", "aggregation", "value", "filter", "windows", "tile",
                "n", "distinct", "description"));
        Optional<EventTypeDef> event = eventOf(map, node, what);
        Optional<Aggregation> aggregation = yaml.required(map, node, "aggregation", what).flatMap(a ->
                oneOf(map.get("aggregation"), a, what + " has unknown aggregation", Aggregation.values(), Aggregation::registryName));
        if (aggregation.isEmpty() || event.isEmpty() || name.isEmpty()) {
            return Optional.empty();
        }
        Aggregation agg = aggregation.get();
        Expr value = readValue(map, node, what, agg, event.get());
        Expr filter = readFilter(map, what, event.get());
        List<Window> windows = readWindows(map, what);
        if (agg == Aggregation.LAST_N && windows.stream().anyMatch(w -> !w.isLifetime())) {
            yaml.error(map.get("windows"), what + ": last_n keeps the n latest values of all time and takes no windows");
        }
        int n = agg == Aggregation.LAST_N ? readCount(map, node, what) : 0;
        boolean distinct = readFlag(map, "distinct", what);
        if (distinct && agg != Aggregation.LAST_N) {
            yaml.error(map.get("distinct"), what + ": 'distinct' applies to last_n only (count_distinct counts distinct values)");
        }
        int scale = value != null && value.type() == FieldType.DECIMAL ? decimalScale(value, event.get()) : 0;
        AggregateFeature feature = new AggregateFeature(name.get(), event.get().entity(), event.get().name(), agg,
                value, filter, windows, n, distinct, scale);
        windows.forEach(w -> claimServedName(node, feature.entity(), feature.servedName(w)));
        return Optional.of(feature);
    }

    private Optional<BatchFeature> readBatch(Node node, Map<String, Node> map, Optional<String> name, String what) {
        yaml.onlyKeys(map, node, what, List.of("name", "kind", "entity", "type", "sql", "ttl", "refresh", "description"));
        Optional<String> entity = entityOf(map, node, what);
        Optional<FieldType> type = yaml.required(map, node, "type", what).flatMap(t ->
                oneOf(map.get("type"), t, what + " has unknown type", FieldType.values(), FieldType::registryName));
        type.filter(t -> t == FieldType.DECIMAL).ifPresent(t -> yaml.error(map.get("type"), what
                + ": a batch feature is string, long, double or boolean; decimal is for event fields"));
        Optional<String> sql = yaml.required(map, node, "sql", what).map(String::strip);
        sql.ifPresent(text -> checkBatchSql(map.get("sql"), text, what));
        Duration ttl = yaml.optional(map, "ttl", what).flatMap(t -> duration(map.get("ttl"), t, what + " ttl"))
                .orElse(DEFAULT_BATCH_TTL);
        Duration refresh = yaml.optional(map, "refresh", what).flatMap(t -> duration(map.get("refresh"), t, what + " refresh"))
                .orElse(DEFAULT_BATCH_REFRESH);
        if (refresh.multipliedBy(2).compareTo(ttl) > 0) {
            yaml.error(node, what + ": refresh " + Durations.format(refresh) + " is more than half the ttl "
                    + Durations.format(ttl) + "; a value must be written again before it expires");
        }
        if (name.isEmpty() || entity.isEmpty() || type.isEmpty() || sql.isEmpty()) {
            return Optional.empty();
        }
        claimServedName(node, entity.get(), name.get());
        return Optional.of(new BatchFeature(name.get(), entity.get(), type.get(), sql.get(), ttl, refresh));
    }

    /** The SQL reads the events through {@code {events}} (so it can be computed as of a time) and ends with no FORMAT. */
    private void checkBatchSql(Node at, String sql, String what) {
        if (!sql.contains(BatchFeature.EVENTS)) {
            yaml.error(at, what + ": the sql must read the events as " + BatchFeature.EVENTS
                    + " (the events up to the computation time), e.g. SELECT entity_id, count() AS value FROM {events} GROUP BY entity_id");
        }
        PLACEHOLDER.matcher(sql).results().map(m -> m.group())
                .filter(p -> !p.equals(BatchFeature.EVENTS) && !p.equals(BatchFeature.AS_OF)).findFirst()
                .ifPresent(p -> yaml.error(at, what + ": unknown placeholder " + p + " in the sql (known: "
                        + BatchFeature.EVENTS + ", " + BatchFeature.AS_OF + ")"));
        if (sql.endsWith(";") || sql.toUpperCase(Locale.ROOT).matches("(?s).*\\bFORMAT\\s+\\w+$")) {
            yaml.error(at, what + ": end the sql without ';' or FORMAT; featurepipe adds what it needs");
        }
    }

    private Expr readValue(Map<String, Node> map, Node node, String what, Aggregation agg, EventTypeDef event) {
        if (agg.value() == Aggregation.Value.NONE) {
            if (map.containsKey("value")) {
                yaml.error(map.get("value"), what + ": " + agg.registryName() + " takes no value");
            }
            return null;
        }
        Optional<Expr> value = yaml.required(map, node, "value", what).flatMap(text -> expression(map.get("value"), text, what, event));
        value.filter(v -> agg.value() == Aggregation.Value.NUMBER && !v.type().numeric()).ifPresent(v ->
                yaml.error(map.get("value"), what + ": " + agg.registryName() + " needs a number, but '"
                        + yaml.scalar(map.get("value"), what).orElse("") + "' is " + v.type().registryName()));
        return value.orElse(null);
    }

    private Expr readFilter(Map<String, Node> map, String what, EventTypeDef event) {
        Node node = map.get("filter");
        if (node == null) {
            return null;
        }
        Optional<Expr> filter = yaml.scalar(node, what + " 'filter'").flatMap(text -> expression(node, text, what + " filter", event));
        filter.filter(f -> f.type() != FieldType.BOOLEAN).ifPresent(f ->
                yaml.error(node, what + ": the filter must be a condition (a comparison, 'in', 'is null', and/or/not), not a "
                        + f.type().registryName()));
        return filter.filter(f -> f.type() == FieldType.BOOLEAN).orElse(null);
    }

    private Optional<Expr> expression(Node at, String text, String what, EventTypeDef event) {
        Map<String, FieldType> fields = new LinkedHashMap<>();
        event.fields().values().forEach(f -> fields.put(f.name(), f.type()));
        try {
            return Optional.of(ExprParser.parse(text, fields));
        } catch (ExprException e) {
            yaml.error(at, what + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    /** {@code name: {entity: E, features: [served names of E]}}, read after every feature is known. */
    private Optional<FeatureSet> readFeatureSet(String name, Node def) {
        String what = "feature set '" + name + "'";
        checkName(def, name, "feature set");
        Map<String, Node> map = yaml.mapping(def, what);
        yaml.onlyKeys(map, def, what, List.of("entity", "features", "description"));
        Optional<String> entity = entityOf(map, def, what);
        Node list = map.get("features");
        if (list == null) {
            yaml.error(def, what + " needs 'features', the served names it holds");
            return Optional.empty();
        }
        List<String> features = new ArrayList<>();
        for (Node f : yaml.sequence(list, what + " 'features'")) {
            yaml.scalar(f, what + " feature").ifPresent(feature -> entity.ifPresent(e -> {
                if (!servedNames.get(e).containsKey(feature)) {
                    yaml.error(f, what + " lists '" + feature + "', which entity '" + e + "' does not serve");
                } else if (features.contains(feature)) {
                    yaml.error(f, what + " lists '" + feature + "' twice");
                } else {
                    features.add(feature);
                }
            }));
        }
        if (features.isEmpty() && yaml.errors().isEmpty()) {
            yaml.error(list, what + " lists no features");
        }
        return entity.map(e -> new FeatureSet(name, e, features));
    }

    /** {@code windows: [1h, 24h, lifetime]}; without the key, the lifetime window alone. */
    private List<Window> readWindows(Map<String, Node> map, String what) {
        Node list = map.get("windows");
        if (list == null) {
            return List.of(Window.lifetime());
        }
        Optional<Duration> tile = yaml.optional(map, "tile", what).flatMap(t -> duration(map.get("tile"), t, what + " tile"));
        List<Window> windows = new ArrayList<>();
        for (Node w : yaml.sequence(list, what + " 'windows'")) {
            Optional<String> text = yaml.scalar(w, what + " window").map(String::trim);
            if (text.filter(Window.LIFETIME::equals).isPresent()) {
                addWindow(windows, Window.lifetime(), w, what);
                continue;
            }
            text.flatMap(t -> duration(w, t, what + " window")).ifPresent(length -> {
                Duration g = tile.orElse(Window.defaultTile(length));
                if (length.toMillis() % g.toMillis() != 0) {
                    yaml.error(w, what + ": window " + Durations.format(length) + " is not a multiple of the tile "
                            + Durations.format(g) + "; set 'tile' to a divisor of every window");
                } else {
                    addWindow(windows, new Window(text.get(), length, g), w, what);
                }
            });
        }
        if (windows.isEmpty() && yaml.errors().isEmpty()) {
            yaml.error(list, what + " lists no windows; leave 'windows' out for lifetime only");
        }
        return windows;
    }

    private void addWindow(List<Window> windows, Window window, Node at, String what) {
        if (windows.stream().anyMatch(x -> Objects.equals(x.length(), window.length()))) {
            yaml.error(at, what + ": window " + window.label() + " is listed twice");
        } else {
            windows.add(window);
        }
    }

    private boolean readFlag(Map<String, Node> map, String key, String what) {
        Optional<String> text = yaml.optional(map, key, what);
        if (text.isPresent() && !text.get().equals("true") && !text.get().equals("false")) {
            yaml.error(map.get(key), what + ": '" + key + "' must be true or false");
        }
        return text.map(Boolean::parseBoolean).orElse(false);
    }

    private Optional<Duration> duration(Node at, String text, String what) {
        try {
            Duration d = Durations.parse(text);
            if (d.isZero()) {
                yaml.error(at, what + " must be longer than zero");
                return Optional.empty();
            }
            return Optional.of(d);
        } catch (IllegalArgumentException e) {
            yaml.error(at, what + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    private int readCount(Map<String, Node> map, Node node, String what) {
        Optional<String> n = yaml.required(map, node, "n", what);
        try {
            int value = n.map(Integer::parseInt).orElse(0);
            if (n.isPresent() && (value < 1 || value > 1000)) {
                yaml.error(map.get("n"), what + ": n must be between 1 and 1000");
            }
            return value;
        } catch (NumberFormatException e) {
            yaml.error(map.get("n"), what + ": n must be a whole number");
            return 0;
        }
    }

    private Optional<ProfileFeature> readProfile(Node node) {
        Map<String, Node> map = yaml.mapping(node, "a profile field");
        Optional<String> name = yaml.required(map, node, "name", "a profile field");
        String what = "profile field '" + name.orElse("?") + "'";
        name.ifPresent(n -> checkName(node, n, "profile field"));
        yaml.onlyKeys(map, node, what, List.of("name", "event", "rule", "value", "filter", "description"));
        Optional<EventTypeDef> event = eventOf(map, node, what);
        Optional<ProfileRule> rule = yaml.required(map, node, "rule", what).flatMap(r ->
                oneOf(map.get("rule"), r, what + " has unknown rule", ProfileRule.values(), ProfileRule::registryName));
        if (name.isEmpty() || event.isEmpty() || rule.isEmpty()) {
            return Optional.empty();
        }
        Optional<Expr> value = yaml.required(map, node, "value", what).flatMap(text -> expression(map.get("value"), text, what, event.get()));
        value.filter(v -> rule.get().numeric() && !v.type().numeric()).ifPresent(v ->
                yaml.error(map.get("value"), what + ": " + rule.get().registryName() + " needs a number, but the value is "
                        + v.type().registryName()));
        Expr filter = readFilter(map, what, event.get());
        claimServedName(node, event.get().entity(), name.get());
        return value.map(v -> new ProfileFeature(name.get(), event.get().entity(), event.get().name(), rule.get(), v, filter,
                v.type() == FieldType.DECIMAL ? decimalScale(v, event.get()) : 0));
    }

    /** The declared entity named by the 'entity' key; empty (with an error) when missing or unknown. */
    private Optional<String> entityOf(Map<String, Node> map, Node node, String what) {
        return yaml.required(map, node, "entity", what).filter(e -> {
            if (!entities.containsKey(e)) {
                yaml.error(map.get("entity"), what + " names unknown entity '" + e + "' (declared: " + entities.keySet() + ")");
            }
            return entities.containsKey(e);
        });
    }

    private Optional<EventTypeDef> eventOf(Map<String, Node> map, Node node, String what) {
        return yaml.required(map, node, "event", what).flatMap(e -> {
            Optional<EventTypeDef> type = Optional.ofNullable(eventTypes.get(e));
            if (type.isEmpty()) {
                yaml.error(map.get("event"), what + " names unknown event type '" + e + "' (declared: " + eventTypes.keySet() + ")");
            }
            return type;
        });
    }

    /** The value named {@code text}, or an error listing the known names. */
    private <E> Optional<E> oneOf(Node at, String text, String problem, E[] values, Function<E, String> nameOf) {
        for (E value : values) {
            if (nameOf.apply(value).equals(text)) {
                return Optional.of(value);
            }
        }
        yaml.error(at, problem + " '" + text + "' (known: " + Arrays.stream(values).map(nameOf).toList() + ")");
        return Optional.empty();
    }

    private void claimServedName(Node at, String entity, String served) {
        Integer earlier = servedNames.get(entity).putIfAbsent(served, YamlNodes.line(at));
        if (earlier != null) {
            yaml.error(at, "duplicate feature name '" + served + "' for entity '" + entity + "' (first at line " + earlier + ")");
        }
    }

    private void checkName(Node at, String name, String what) {
        if (!NAME.matcher(name).matches()) {
            yaml.error(at, what + " name '" + name + "' must be lower case letters, digits and _ and start with a letter");
        }
    }

}
