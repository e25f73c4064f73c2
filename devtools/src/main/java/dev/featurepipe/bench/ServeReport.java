package dev.featurepipe.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import org.HdrHistogram.Histogram;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** The serving benchmark's report: a markdown table of every figure and a chart of latency percentiles by rate. */
public final class ServeReport {
    static final String CHART = "serve-latency.png";

    private ServeReport() {
    }

    /** The line every run ends with, at {@link ServeBench#HEADLINE_RATE}. */
    public static String lastLine(ServeBench.Result r) {
        ServeBench.Rated headline = r.at(ServeBench.HEADLINE_RATE);
        return String.format(Locale.ROOT, "bench: serve_p99_ms=%.3f redis_p99_ms=%.3f ratio=%.2f ingest_eps=%.0f freshness_p99_ms=%.1f",
                headline.serve().millis(99), headline.redis().millis(99), headline.ratio(), r.batched().eventsPerSecond(),
                r.freshness().get(r.freshness().size() - 1).served().getValueAtPercentile(99) / 1000.0);
    }

    /** Writes {@code report.md} and the chart into {@code dir}; returns the report's path. */
    public static Path write(ServeBench.Result r, String machine, String command, Path dir) {
        try {
            Files.createDirectories(dir);
            chart(r.single(), dir.resolve(CHART));
            Path report = dir.resolve("report.md");
            Files.writeString(report, markdown(r, machine, command));
            return report;
        } catch (IOException e) {
            throw new UncheckedIOException("writing the benchmark report into " + dir, e);
        }
    }

    private static String markdown(ServeBench.Result r, String machine, String command) {
        StringBuilder md = new StringBuilder();
        md.append("# featurepipe serving benchmark\n\n")
                .append("Command: `").append(command).append("`  \nMachine: ").append(machine).append("  \n")
                .append(String.format(Locale.ROOT, "Vector: %d features of feature set `%s` (%s), %,d customers with data.%n%n",
                        r.features().size(), ServeBench.FEATURE_SET, String.join(", ", r.features()), r.customers()))
                .append("Latencies in ms, from when each request was due (open loop, no coordinated omission).\n\n")
                .append("| request | rate (req/s) | requests | serve p50 | serve p99 | serve p99.9 | Redis p50 | Redis p99 | Redis p99.9 | p99 ratio |\n")
                .append("|---|---|---|---|---|---|---|---|---|---|\n");
        for (ServeBench.Rated x : r.single()) {
            md.append(row("1 × " + r.features().size(), x));
        }
        md.append(row(ServeBench.MANY_IDS + " × " + r.features().size(), r.many()));
        int highest = r.highestRateUnderLimit();
        md.append(highest == 0
                ? String.format(Locale.ROOT, "%nNo rate tried kept serving's p99 under %.0f ms.%n%n", ServeBench.P99_LIMIT_MS)
                : String.format(Locale.ROOT, "%nHighest rate tried with serving p99 under %.0f ms: %,d req/s.%n%n",
                        ServeBench.P99_LIMIT_MS, highest));
        md.append("| figure | value |\n|---|---|\n");
        md.append(String.format(Locale.ROOT, "| ingestion, NDJSON batches of 1,000, 4 connections | %,.0f events/s (%,d events, %d failed requests) |%n",
                r.batched().eventsPerSecond(), r.batched().events(), r.batched().failures()));
        md.append(String.format(Locale.ROOT, "| consumer groups caught up after that | %.1f s after the last request |%n", r.catchUpSeconds()));
        md.append(String.format(Locale.ROOT, "| ingestion, single-event requests, 16 connections | %,.0f events/s (%,d requests, %d failed) |%n",
                r.singleEvents().eventsPerSecond(), r.singleEvents().requests(), r.singleEvents().failures()));
        for (ServeBench.Freshness f : r.freshness()) {
            md.append(String.format(Locale.ROOT, "| freshness at %,d events/s: ingest answer to served | p50 %.1f ms, p99 %.1f ms, max %.1f ms (%,d probes)%s |%n",
                    f.rate(), ms(f.served(), 50), ms(f.served(), 99), f.served().getMaxValue() / 1000.0, f.served().getTotalCount(),
                    f.stalled() == null ? "" : "; " + f.stalled()));
            md.append(String.format(Locale.ROOT, "| online consumer meanwhile | %,d batches, Redis side mean %.1f ms per batch;"
                    + " MongoDB side %,d writes (the batches waiting, together), mean %.1f ms per write |%n", f.batches().batches(),
                    f.batches().redisMeanMillis(), f.batches().profileWrites(), f.batches().profilesMeanMillis()));
            md.append(String.format(Locale.ROOT, "| offline lag at %,d events/s: sent to queryable in ClickHouse | p50 %.0f ms, p99 %.0f ms (%,d probes) |%n",
                    f.rate(), ms(f.offlineLag(), 50), ms(f.offlineLag(), 99), f.offlineLag().getTotalCount()));
        }
        md.append(String.format(Locale.ROOT, "| heap in use, peak (sampled every 100 ms) | %,d MB of a %,d MB maximum"
                + " (garbage included); left after a collection: at most %,d MB |%n",
                r.heap().inUseBytes() >> 20, r.heapMaxBytes() >> 20, r.heap().afterCollectionBytes() >> 20));
        md.append("\n![serving latency by rate](").append(CHART).append(")\n\n").append(lastLine(r)).append('\n');
        return md.toString();
    }

    private static String row(String request, ServeBench.Rated x) {
        return String.format(Locale.ROOT, "| %s | %,d | %,d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f |%n", request, x.rate(),
                x.serve().latencyMicros().getTotalCount(), x.serve().millis(50), x.serve().millis(99), x.serve().millis(99.9),
                x.redis().millis(50), x.redis().millis(99), x.redis().millis(99.9), x.ratio());
    }

    private static double ms(Histogram h, double percentile) {
        return h.getValueAtPercentile(percentile) / 1000.0;
    }

    private static void chart(List<ServeBench.Rated> rates, Path png) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        for (double p : new double[] {50, 99, 99.9}) {
            data.addSeries(series("serve p" + label(p), rates, x -> x.serve().millis(p)));
        }
        for (double p : new double[] {50, 99, 99.9}) {
            data.addSeries(series("Redis p" + label(p), rates, x -> x.redis().millis(p)));
        }
        JFreeChart chart = ChartFactory.createXYLineChart("GET one customer, 20 features: latency by rate",
                "requests/s (open loop)", "ms", data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        LogAxis ms = new LogAxis("ms (log scale)");
        ms.setNumberFormatOverride(new java.text.DecimalFormat("0.###"));
        plot.setRangeAxis(ms);
        ((NumberAxis) plot.getDomainAxis()).setAutoRangeIncludesZero(true);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        Color[] colors = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c)};
        for (int i = 0; i < 6; i++) {
            renderer.setSeriesPaint(i, colors[i % 3]);
            renderer.setSeriesStroke(i, i < 3 ? new BasicStroke(2f)
                    : new BasicStroke(1.5f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND, 1f, new float[] {6f, 4f}, 0f));
        }
        plot.setRenderer(renderer);
        ChartUtils.saveChartAsPNG(png.toFile(), chart, 900, 540);
    }

    private static String label(double p) {
        return p == Math.rint(p) ? Long.toString((long) p) : Double.toString(p);
    }

    private static XYSeries series(String name, List<ServeBench.Rated> rates, Function<ServeBench.Rated, Double> y) {
        XYSeries s = new XYSeries(name);
        rates.forEach(x -> s.add(x.rate(), Math.max(0.001, y.apply(x))));
        return s;
    }
}
