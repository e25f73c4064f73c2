package dev.featurepipe.cli;

import dev.featurepipe.hostile.CorpusGenerator;
import dev.featurepipe.hostile.HostileCase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "hostile-corpus", mixinStandardHelpOptions = true,
        description = "Write the hostile corpus (requests the API must refuse, checked by HostileCorpusIT) from its seed.")
final class HostileCorpusCommand implements Callable<Integer> {
    @Option(names = "--out", description = "file to write (default: ${DEFAULT-VALUE} under the project directory)")
    Path out = Path.of(CorpusGenerator.DEFAULT_FILE);

    @Option(names = "--seed", description = "seed of the random parts (default: ${DEFAULT-VALUE}, the committed corpus's)")
    long seed = CorpusGenerator.SEED;

    @Override
    public Integer call() throws Exception {
        Path file = out.isAbsolute() ? out : Path.of(System.getProperty("fp.home", ".")).resolve(out);
        List<HostileCase> cases = CorpusGenerator.cases(seed);
        Files.createDirectories(file.toAbsolutePath().getParent());
        HostileCase.write(file, cases);
        System.out.println("hostile corpus: " + cases.size() + " cases written to " + file);
        return 0;
    }
}
