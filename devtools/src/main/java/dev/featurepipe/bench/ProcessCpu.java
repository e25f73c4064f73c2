package dev.featurepipe.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** CPU time a process has used, user and system, from {@code /proc/<pid>/stat} (Linux). */
final class ProcessCpu {
    /** Clock ticks per second of {@code /proc} times, USER_HZ: 100 on every Linux a JVM runs on. */
    private static final long TICKS_PER_SECOND = 100;

    private ProcessCpu() {
    }

    /** Microseconds of CPU the process has used so far, with its threads; -1 when it is gone. */
    static long micros(long pid) {
        String stat;
        try {
            stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.US_ASCII);
        } catch (java.nio.file.NoSuchFileException e) {
            return -1;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        // the name, field 2, is in parentheses and may hold spaces: count fields after its closing one
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime: fields 14 and 15
        return ticks * 1_000_000 / TICKS_PER_SECOND;
    }
}
