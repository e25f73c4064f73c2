package dev.featurepipe.cli;

import dev.featurepipe.core.registry.BatchFeature;
import dev.featurepipe.materialize.Materializer;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;

/** A progress bar for a materialization run, in values written with their rate, and a line on the outcome. */
final class MaterializeProgress implements Materializer.Progress, AutoCloseable {
    private ProgressBar bar;

    /** Runs one feature with a progress bar and prints what the run did. */
    static void run(Materializer materializer, BatchFeature f, boolean full) {
        Materializer.Outcome o;
        try (MaterializeProgress progress = new MaterializeProgress()) {
            o = materializer.run(f, full, progress);
        }
        System.out.printf(Locale.ROOT, "%s: %s run, %,d entities with a value, %,d values written in %.1f s "
                + "(%,.0f values/s)%n", o.feature(), o.full() ? "full" : "incremental", o.entities(), o.written(),
                o.seconds(), o.written() / Math.max(o.seconds(), 1e-3));
    }

    @Override
    public void start(String feature, long total) {
        bar = new ProgressBarBuilder().setTaskName(feature).setInitialMax(total).setUnit(" values", 1).showSpeed().build();
    }

    @Override
    public void step(long written) {
        bar.stepBy(written);
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
