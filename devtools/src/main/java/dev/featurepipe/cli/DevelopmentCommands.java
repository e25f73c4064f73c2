package dev.featurepipe.cli;

import java.util.List;

/** The commands of the development tooling: local servers, the demo, the benchmarks, the chaos run. */
public final class DevelopmentCommands implements MoreCommands {
    @Override
    public List<Object> commands() {
        return List.of(new ServicesCommand(), new DemoCommand(), new BenchCommand(), new ChaosCommand(),
                new HostileCorpusCommand());
    }
}
