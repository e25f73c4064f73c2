package dev.featurepipe.cli;

import dev.featurepipe.core.FeaturepipeException;
import dev.featurepipe.core.Secrets;
import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.ParseResult;

/** Prints what went wrong, without a stack trace for the failures featurepipe expects. */
final class ErrorHandler implements IExecutionExceptionHandler {
    @Override
    public int handleExecutionException(Exception e, CommandLine cmd, ParseResult parsed) {
        if (e instanceof FeaturepipeException) {
            cmd.getErr().println("fp: " + Secrets.redact(e.getMessage()));
            return 2;
        }
        StringWriter trace = new StringWriter();
        e.printStackTrace(new PrintWriter(trace));
        cmd.getErr().println("fp: unexpected failure:");
        cmd.getErr().print(Secrets.redact(trace.toString()));
        return 1;
    }
}
