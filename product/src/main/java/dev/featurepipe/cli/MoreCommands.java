package dev.featurepipe.cli;

import java.util.List;

/**
 * Commands beyond the product's, found on the class path with {@link java.util.ServiceLoader}: the development
 * tooling adds {@code services}, {@code demo} and {@code bench}, so the product does not depend on it.
 */
public interface MoreCommands {
    /** Instances of picocli {@code @Command} classes. */
    List<Object> commands();
}
