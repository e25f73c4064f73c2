package dev.featurepipe.hostile;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A body under construction: literal bytes and repeated runs, kept as segments so a big body stays small. */
final class Bytes {
    private final List<HostileCase.Segment> segments = new ArrayList<>();
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    static Bytes of(String text) {
        return new Bytes().text(text);
    }

    static Bytes of(byte[] bytes) {
        return new Bytes().bytes(bytes);
    }

    Bytes text(String text) {
        return bytes(text.getBytes(StandardCharsets.UTF_8));
    }

    Bytes bytes(byte[] bytes) {
        pending.writeBytes(bytes);
        return this;
    }

    Bytes repeat(String text, int times) {
        flush();
        segments.add(new HostileCase.Segment(text.getBytes(StandardCharsets.UTF_8), times));
        return this;
    }

    Bytes append(Bytes other) {
        for (HostileCase.Segment s : other.segments()) {
            if (s.times() == 1) {
                bytes(s.bytes());
            } else {
                flush();
                segments.add(s);
            }
        }
        return this;
    }

    List<HostileCase.Segment> segments() {
        flush();
        return List.copyOf(segments);
    }

    private void flush() {
        if (pending.size() > 0) {
            segments.add(new HostileCase.Segment(pending.toByteArray(), 1));
            pending.reset();
        }
    }
}
