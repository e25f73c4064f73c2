package dev.featurepipe.cli;

import dev.featurepipe.config.Config;
import dev.featurepipe.config.Setting;
import java.util.Locale;
import java.util.ServiceLoader;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.OptionSpec;

/** The {@code ./fp} command line. */
@Command(name = "fp", mixinStandardHelpOptions = true, version = "featurepipe 0.1",
        description = "featurepipe: a feature pipeline and feature store (Redis Streams, Redis, MongoDB, ClickHouse).",
        subcommands = {RunCommand.class, RegistryCommand.class, VerifyCommand.class, TrainingSetCommand.class,
            MaterializeCommand.class, DeadLettersCommand.class, ApiKeyCommand.class})
public final class Main {

    public static void main(String[] args) {
        Thread.setDefaultUncaughtExceptionHandler(new ExitOnError());
        System.exit(commandLine().execute(args));
    }

    /** The command line with every subcommand and setting flag (also used to run commands in tests). */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        ServiceLoader.load(MoreCommands.class).forEach(more -> more.commands().forEach(cli::addSubcommand));
        addSettingOptions(cli);
        cli.setExecutionExceptionHandler(new ErrorHandler());
        return cli;
    }

    /** Every setting is also a flag of the commands that use the configuration: FP_HTTP_PORT is --http-port. */
    private static void addSettingOptions(CommandLine command) {
        if (command.getCommand() instanceof ConfiguredCommand) {
            for (Setting<?> s : Config.ALL) {
                command.getCommandSpec().addOption(OptionSpec.builder(s.flag())
                        .paramLabel("<" + s.env().substring(3).toLowerCase(Locale.ROOT) + ">")
                        .type(String.class)
                        .description(s.description() + " (env " + s.env() + ", default " + s.defaultValue() + ")")
                        .build());
            }
        }
        command.getSubcommands().values().forEach(Main::addSettingOptions);
    }
}
