package dev.featurepipe.cli;

import dev.featurepipe.auth.ApiKeys;
import dev.featurepipe.auth.Scope;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(name = "api-key", mixinStandardHelpOptions = true, description = "API keys of the HTTP API.",
        subcommands = ApiKeyCommand.New.class)
final class ApiKeyCommand {

    @Command(name = "new", mixinStandardHelpOptions = true,
            description = "Make a fresh random key: prints the key, once, and the line that grants it in FP_API_KEYS_FILE.")
    static final class New implements Runnable {
        @Option(names = "--scopes", required = true, split = ",", description = "ingest, read, admin (admin may do all)")
        List<String> scopes;

        @Option(names = "--entities", split = ",", description = "entities the key is limited to (default: all)")
        List<String> entities = List.of();

        @Option(names = "--name", description = "a label for logs and errors (default: line-<n> of the file)")
        String name;

        @Spec
        CommandSpec spec;

        @Override
        public void run() {
            Set<Scope> parsed = new LinkedHashSet<>();
            try {
                scopes.forEach(s -> parsed.add(Scope.parse(s.trim())));
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--scopes: " + e.getMessage());
            }
            if (name != null && !name.matches("[A-Za-z0-9_.-]{1,64}")) {
                throw new ParameterException(spec.commandLine(), "--name: 1 to 64 letters, digits, '_', '.' or '-'");
            }
            String key = ApiKeys.newKey();
            System.out.println("key (shown once; give it to the client, keep it nowhere else): " + key);
            System.out.println("line for FP_API_KEYS_FILE:");
            System.out.println(ApiKeys.line(key, parsed, new LinkedHashSet<>(entities), name));
        }
    }
}
