package dev.featurepipe.cli;

import dev.featurepipe.core.FeaturepipeException;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.ParseResult;

/** Prints what went wrong, without a stack trace for the failures featurepipe expects. */
final class ErrorHandler implements IExecutionExceptionHandler {
    @Override
    public int handleExecutionException(Exception e, CommandLine cmd, ParseResult parsed) {
        if (e instanceof FeaturepipeException) {
            cmd.getErr().println("fp: " + e.getMessage());
            return 2;
        }
        cmd.getErr().println("fp: unexpected failure:");
        e.printStackTrace(cmd.getErr());
        return 1;
    }
}
