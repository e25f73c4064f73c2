package dev.featurepipe.cli;

import dev.featurepipe.app.Stores;
import dev.featurepipe.config.Config;
import dev.featurepipe.redis.DeadLetterStream;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "dead-letters", mixinStandardHelpOptions = true,
        description = "The events the consumers could not apply: 'list' shows them with their reason, 'replay' puts "
                + "them back on the stream once the cause is mended (each is applied once).")
final class DeadLettersCommand extends ConfiguredCommand {
    @Parameters(index = "0", description = "list or replay")
    String action;

    @Option(names = "--id", split = ",", description = "only these dead letters (ids as 'list' prints them)")
    List<String> ids = List.of();

    @Option(names = "--group", description = "only the letters of this consumer group (online, offline)")
    String group;

    @Option(names = "--payloads", description = "list: print each letter's events too")
    boolean payloads;

    @Override
    public Integer call() {
        if (!action.equals("list") && !action.equals("replay")) {
            System.err.println("fp dead-letters: the action is 'list' or 'replay', not '" + action + "'");
            return 2;
        }
        Config config = config();
        Set<String> only = Set.copyOf(ids);
        try (Stores stores = new Stores(config)) {
            AtomicLong chosen = new AtomicLong();
            AtomicLong replayed = new AtomicLong();
            long all = 0;
            for (String stream : stores.shards().streams()) {
                DeadLetterStream letters = new DeadLetterStream(stores.redis(), stream);
                all += letters.forEach(letter -> {
                    if ((only.isEmpty() || only.contains(letter.id())) && (group == null || group.equals(letter.group()))) {
                        chosen.incrementAndGet();
                        if (act(letters, letter)) {
                            replayed.incrementAndGet();
                        }
                    }
                });
            }
            if (action.equals("list")) {
                System.out.println("dead-letters: " + chosen.get() + " of " + all + " listed");
            } else {
                System.out.println("dead-letters: " + replayed.get() + " replayed onto " + config.get(Config.STREAM)
                        + " (" + (all - replayed.get()) + " left)");
            }
            return 0;
        }
    }

    /** Lists the letter, or replays it; returns whether it was replayed now. */
    private boolean act(DeadLetterStream letters, DeadLetterStream.Letter letter) {
        if (action.equals("list")) {
            System.out.printf(Locale.ROOT, "%s  %-7s %-24s %s%n", letter.id(), letter.group(), letter.position(), letter.reason());
            if (payloads) {
                letter.payload().lines().forEach(line -> System.out.println("    " + line));
            }
            return false;
        }
        return letters.replay(letter) != null;
    }
}
