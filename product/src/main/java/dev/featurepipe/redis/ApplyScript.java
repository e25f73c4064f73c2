package dev.featurepipe.redis;

import dev.featurepipe.online.ChunkWrites;
import dev.featurepipe.online.EntityKey;
import dev.featurepipe.online.FeatureKey;
import dev.featurepipe.online.StoreOp;
import dev.featurepipe.online.StoredValues;
import dev.featurepipe.online.Tile;
import dev.featurepipe.online.WindowCache;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * apply.lua, which makes a chunk's {@link ChunkWrites} in one call. The names the script shares with Java (the
 * operation codes, its replies, the parts of tile fields it builds or parses, the generation field) are defined
 * here and in the online model, and substituted into the script's source when it is loaded.
 *
 * <p>This is where a feature's state is laid out on an entity's keys ({@link StreamKeys#state}): a field
 * {@code <tile field>} of a feature's state is the field {@code <feature>/<tile field>} of the entity's state hash,
 * except distinct values: those of windows go to the entity's {@link StreamKeys#distinct} hash, those of the
 * lifetime window to its {@link StreamKeys#seen} hash, with their count in the state hash. A last_n feature's
 * recent values are the field {@code <feature>/r} of the state hash.
 */
final class ApplyScript {
    /** Replies per event. */
    static final long APPLIED_BEFORE = 0;
    static final long APPLIED = 1;
    static final long SEND_AGAIN = 2;
    /** How an error reply of the script about a value starts: the call's data cannot be applied. */
    static final String VALUE_ERROR = "VALUE";
    /** How an applied mark starts: then the event's sequence number. */
    private static final String SEQUENCED = "s";
    private static final String STARTS = "f";
    /** Between a feature's name and the name of a field of its state, in the state hash. */
    static final String FEATURE_SEPARATOR = "/";
    /** After a feature's name and tile size: the cutoff of the last prune of that size. */
    private static final String PRUNED = ":p";
    /** The state hash's field holding the ttl it was last given. */
    private static final String TTL = "@ttl";
    /** After a feature's name: the recent values of a last_n feature. */
    static final String RECENT = "r";

    /** The script's operation codes, one per {@link StoreOp} (two for AddRecent), with the arguments after k. */
    private enum Op {
        /** field amount */
        ADD_TO("I"),
        /** field value */
        KEEP_MIN("N"),
        KEEP_MAX("X"),
        /** tile-prefix ts id value */
        KEEP_LATEST("L"),
        /** state-key count field... */
        ADD_DISTINCT("D"),
        /** state-key counter-field count value... */
        ADD_SEEN("S"),
        /** field n count score member... */
        ADD_RECENT("Z"),
        RAISE_RECENT("G"),
        /** pruned-key field-prefix tile-ms cutoff */
        PRUNE("P");

        private final String code;

        Op(String code) {
            this.code = code;
        }
    }

    private final RedisScript script;
    private final Shards shards;
    private final int prunePeriods;

    /**
     * @param shards where each entity's keys are; the writes of one call are all of one shard
     * @param prunePeriods how many tile periods of a size pass before its old tiles are dropped, at once
     */
    ApplyScript(Shards shards, int prunePeriods) {
        this.script = RedisScript.load("apply.lua", literals());
        this.shards = shards;
        this.prunePeriods = prunePeriods;
    }

    /** What the script reads as the names it shares with Java, as Lua literals. */
    static Map<String, String> literals() {
        Map<String, String> literals = new HashMap<>();
        for (Op op : Op.values()) {
            literals.put(op.name(), quoted(op.code));
        }
        literals.put("APPLIED_BEFORE", Long.toString(APPLIED_BEFORE));
        literals.put("APPLIED", Long.toString(APPLIED));
        literals.put("SEND_AGAIN", Long.toString(SEND_AGAIN));
        literals.put("VALUE_ERROR", quoted(VALUE_ERROR));
        literals.put("SEQUENCED", quoted(SEQUENCED));
        literals.put("STARTS", quoted(STARTS));
        literals.put("PRUNED", quoted(PRUNED));
        literals.put("TTL", quoted(TTL));
        literals.put("GENERATION", quoted(WindowCache.GENERATION));
        literals.put("SEQUENCE", quoted(WindowCache.SEQUENCE));
        for (Tile.Part part : List.of(Tile.Part.LAST_TS, Tile.Part.LAST_ID, Tile.Part.LAST_VALUE)) {
            literals.put(part.name(), quoted(part.suffix()));
        }
        String separator = Tile.SEPARATOR.replaceAll("(\\W)", "%$1"); // as a Lua pattern
        literals.put("TILE_FIELD", quoted("^(%d+)" + separator + "(%d+)" + separator));
        return literals;
    }

    private static String quoted(String text) {
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    /**
     * What the script says of one event: one of the replies above, and for an event of a type with profile rules
     * applied now or before, its number ({@code sequence} 0 for other events and those applied before numbers were
     * kept).
     */
    record Reply(long outcome, long sequence, boolean startsSequence) {
        static Reply of(long outcome, String mark) {
            boolean starts = mark.startsWith(STARTS);
            if (!starts && !mark.startsWith(SEQUENCED)) {
                return new Reply(outcome, 0, false);
            }
            return new Reply(outcome, Long.parseLong(mark, 1, mark.length(), 10), starts);
        }
    }

    /** Makes the writes unless an applied mark of theirs exists. */
    List<Reply> run(RedisClusterCommands<String, String> redis, ChunkWrites writes) {
        Call call = new Call();
        call.encode(writes);
        List<Object> flat = script.run(redis, ScriptOutputType.MULTI, call.keys.keySet().toArray(String[]::new),
                call.args.toArray(String[]::new));
        List<Reply> replies = new ArrayList<>(flat.size() / 2);
        for (int i = 0; i < flat.size(); i += 2) {
            replies.add(Reply.of((Long) flat.get(i), (String) flat.get(i + 1)));
        }
        return replies;
    }

    /** The KEYS and ARGV of one call, as the script documents them. */
    private final class Call {
        private final Map<String, Integer> keys = new LinkedHashMap<>();
        private final List<String> args = new ArrayList<>();

        void encode(ChunkWrites writes) {
            List<EntityKey> entities = writes.entities();
            args.add(Integer.toString(entities.size()));
            Map<EntityKey, Integer> numbers = new HashMap<>();
            for (EntityKey e : entities) {
                args.add(key(StreamKeys.state(shards.prefixOf(e.id()), e.entity(), e.id())));
                args.add(Long.toString(writes.stateTtlMs().get(e.entity())));
                numbers.put(e, numbers.size() + 1);
            }
            args.add(Integer.toString(writes.appliedEvents().size()));
            args.add(Long.toString(writes.ttlMs()));
            for (ChunkWrites.Marked event : writes.appliedEvents()) {
                args.add(key(StreamKeys.appliedMark(shards.prefixOf(event.entity().id()), event.eventKey())));
                args.add(Integer.toString(event.profiled() ? numbers.get(event.entity()) : 0));
            }
            args.add(Integer.toString(prunePeriods));
            writes.ops().forEach(this::encode);
        }

        private void encode(StoreOp op) {
            FeatureKey f = op.key();
            String shard = shards.prefixOf(f.id());
            String state = key(StreamKeys.state(shard, f.entity(), f.id()));
            String prefix = f.feature() + FEATURE_SEPARATOR;
            if (op instanceof StoreOp.AddTo a) {
                add(Op.ADD_TO, state, prefix + a.field(), StoredValues.text(a.amount()));
            } else if (op instanceof StoreOp.KeepMin m) {
                add(Op.KEEP_MIN, state, prefix + m.field(), m.value());
            } else if (op instanceof StoreOp.KeepMax m) {
                add(Op.KEEP_MAX, state, prefix + m.field(), m.value());
            } else if (op instanceof StoreOp.KeepLatest l) {
                add(Op.KEEP_LATEST, state, prefix + l.tile().prefix(), Long.toString(l.ts()), l.eventId(), l.value());
            } else if (op instanceof StoreOp.AddDistinct d) {
                encodeDistinct(d, shard, state, prefix);
            } else if (op instanceof StoreOp.AddRecent r) {
                add(r.raiseOnly() ? Op.RAISE_RECENT : Op.ADD_RECENT, state, prefix + RECENT, Integer.toString(r.keep()),
                        Integer.toString(r.scores().size()));
                r.scores().forEach((member, score) -> {
                    args.add(Long.toString(score));
                    args.add(member);
                });
            } else if (op instanceof StoreOp.Prune p) {
                String pruned = p.distinctValues() ? key(StreamKeys.distinct(shard, f.entity(), f.id())) : state;
                add(Op.PRUNE, state, pruned, prefix, Long.toString(p.tileMs()), Long.toString(p.cutoff()));
            } else {
                throw new IllegalStateException("apply.lua has no operation for " + op);
            }
        }

        /** Distinct values of windows to the entity's distinct hash, of the lifetime window to its seen hash. */
        private void encodeDistinct(StoreOp.AddDistinct d, String shard, String state, String prefix) {
            FeatureKey f = d.key();
            String lifetime = Tile.LIFETIME.field(Tile.Part.DISTINCT) + Tile.SEPARATOR;
            List<String> windows = new ArrayList<>();
            List<String> seen = new ArrayList<>();
            for (String field : d.fields()) {
                (field.startsWith(lifetime) ? seen : windows).add(prefix + field);
            }
            if (!windows.isEmpty()) {
                add(Op.ADD_DISTINCT, key(StreamKeys.distinct(shard, f.entity(), f.id())), state,
                        Integer.toString(windows.size()));
                args.addAll(windows);
            }
            if (!seen.isEmpty()) {
                add(Op.ADD_SEEN, key(StreamKeys.seen(shard, f.entity(), f.id())), state,
                        prefix + Tile.LIFETIME.field(Tile.Part.COUNT), Integer.toString(seen.size()));
                args.addAll(seen);
            }
        }

        private void add(Op op, String k, String... rest) {
            args.add(op.code);
            args.add(k);
            args.addAll(List.of(rest));
        }

        /** The key's 1-based index in KEYS, as text. */
        private String key(String name) {
            return Integer.toString(keys.computeIfAbsent(name, n -> keys.size() + 1));
        }
    }
}
