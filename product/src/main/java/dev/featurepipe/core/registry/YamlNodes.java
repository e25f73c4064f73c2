package dev.featurepipe.core.registry;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/** Reads a composed YAML node tree, recording each shape error with its line instead of stopping at the first. */
final class YamlNodes {
    private final List<RegistryError> errors = new ArrayList<>();

    List<RegistryError> errors() {
        return errors;
    }

    void error(Node at, String message) {
        errors.add(new RegistryError(line(at), message));
    }

    static int line(Node node) {
        return node.getStartMark().getLine() + 1;
    }

    /** The entries of a mapping by key, reporting duplicate keys; empty when {@code node} is not a mapping. */
    Map<String, Node> mapping(Node node, String what) {
        Map<String, Node> entries = new LinkedHashMap<>();
        if (!(node instanceof MappingNode map)) {
            error(node, what + " must be a mapping of name: value");
            return entries;
        }
        for (NodeTuple tuple : map.getValue()) {
            Optional<String> key = scalar(tuple.getKeyNode(), "a key in " + what);
            if (key.isPresent() && entries.putIfAbsent(key.get(), tuple.getValueNode()) != null) {
                error(tuple.getKeyNode(), "duplicate name '" + key.get() + "' in " + what);
            }
        }
        return entries;
    }

    List<Node> sequence(Node node, String what) {
        if (node instanceof SequenceNode seq) {
            return seq.getValue();
        }
        error(node, what + " must be a list");
        return List.of();
    }

    Optional<String> scalar(Node node, String what) {
        if (node instanceof ScalarNode s) {
            return Optional.of(s.getValue());
        }
        error(node, what + " must be a single value");
        return Optional.empty();
    }

    /** A required scalar entry of a mapping; reports it missing at the mapping's line. */
    Optional<String> required(Map<String, Node> map, Node owner, String key, String what) {
        Node value = map.get(key);
        if (value == null) {
            error(owner, what + " needs '" + key + "'");
            return Optional.empty();
        }
        return scalar(value, what + " '" + key + "'");
    }

    Optional<String> optional(Map<String, Node> map, String key, String what) {
        Node value = map.get(key);
        return value == null ? Optional.empty() : scalar(value, what + " '" + key + "'");
    }

    /** Reports keys that are not among {@code known}, usually a typo. */
    void onlyKeys(Map<String, Node> map, Node owner, String what, List<String> known) {
        for (String key : map.keySet()) {
            if (!known.contains(key)) {
                error(map.get(key), "unknown key '" + key + "' in " + what + " (known: " + String.join(", ", known) + ")");
            }
        }
    }
}
