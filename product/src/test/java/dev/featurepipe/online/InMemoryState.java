package dev.featurepipe.online;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The operations' meaning as StoreOp documents it, over plain maps: the fake store of the model's tests. */
final class InMemoryState {
    final Map<FeatureKey, Map<String, String>> hashes = new HashMap<>();
    final Map<FeatureKey, Map<String, Long>> sortedSets = new HashMap<>();
    final Set<String> applied = new HashSet<>();

    /** Makes the writes and marks their events applied, unless one of them was applied before. */
    boolean write(ChunkWrites writes) {
        List<String> keys = writes.appliedEvents().stream().map(ChunkWrites.Marked::eventKey).toList();
        if (keys.stream().anyMatch(applied::contains)) {
            return false;
        }
        applied.addAll(keys);
        writes.ops().forEach(this::write);
        return true;
    }

    Map<String, String> hash(FeatureKey key) {
        return hashes.getOrDefault(key, Map.of());
    }

    /** The members of a sorted set, highest score first, ties by the larger member (as ZREVRANGE). */
    List<String> members(FeatureKey key) {
        return sortedSets.getOrDefault(key, Map.of()).entrySet().stream()
                .sorted(Map.Entry.<String, Long>comparingByValue().thenComparing(Map.Entry::getKey, InMemoryState::bytes).reversed())
                .map(Map.Entry::getKey).toList();
    }

    private void write(StoreOp op) {
        Map<String, String> hash = hashes.computeIfAbsent(op.key(), k -> new LinkedHashMap<>());
        if (op instanceof StoreOp.AddTo a) {
            String old = hash.get(a.field());
            boolean whole = a.amount() instanceof Long && (old == null || !old.contains("."));
            hash.put(a.field(), whole ? Long.toString((old == null ? 0 : Long.parseLong(old)) + a.amount().longValue())
                    : Double.toString((old == null ? 0 : Double.parseDouble(old)) + a.amount().doubleValue()));
        } else if (op instanceof StoreOp.KeepMin m) {
            hash.merge(m.field(), m.value(), (old, v) -> Double.parseDouble(v) < Double.parseDouble(old) ? v : old);
        } else if (op instanceof StoreOp.KeepMax m) {
            hash.merge(m.field(), m.value(), (old, v) -> Double.parseDouble(v) > Double.parseDouble(old) ? v : old);
        } else if (op instanceof StoreOp.KeepLatest l) {
            String ts = hash.get(l.tile().field(Tile.Part.LAST_TS));
            String id = hash.get(l.tile().field(Tile.Part.LAST_ID));
            if (ts == null || l.ts() > Long.parseLong(ts) || (l.ts() == Long.parseLong(ts) && bytes(l.eventId(), id) > 0)) {
                hash.put(l.tile().field(Tile.Part.LAST_TS), Long.toString(l.ts()));
                hash.put(l.tile().field(Tile.Part.LAST_ID), l.eventId());
                hash.put(l.tile().field(Tile.Part.LAST_VALUE), l.value());
            }
        } else if (op instanceof StoreOp.AddDistinct d) {
            d.fields().forEach(f -> hash.put(f, "1"));
        } else if (op instanceof StoreOp.AddRecent r) {
            Map<String, Long> set = sortedSets.computeIfAbsent(r.key(), k -> new HashMap<>());
            r.scores().forEach((member, score) -> set.merge(member, score, r.raiseOnly() ? Math::max : (old, v) -> v));
            List<String> ranked = members(r.key());
            ranked.subList(Math.min(r.keep(), ranked.size()), ranked.size()).forEach(set::remove);
        } else if (op instanceof StoreOp.Prune p) {
            hash.keySet().removeIf(f -> {
                String[] parts = f.split(":");
                return Long.parseLong(parts[0]) == p.tileMs() && Long.parseLong(parts[1]) < p.cutoff();
            });
        }
        if (hash.isEmpty()) {
            hashes.remove(op.key());
        }
    }

    private static int bytes(String a, String b) {
        return Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    static final Comparator<String> BY_BYTES = InMemoryState::bytes;
}
