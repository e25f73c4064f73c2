package dev.featurepipe.core;

import java.nio.charset.StandardCharsets;

/**
 * The hash that places an entity: SipHash-2-4 with a zero key over the UTF-8 bytes of its id, which is what
 * ClickHouse's {@code sipHash64(entity_id)} computes, so the stream shard of an entity and its ClickHouse shard
 * follow one rule.
 */
public final class EntityHash {
    private long v0 = 0x736f6d6570736575L;
    private long v1 = 0x646f72616e646f6dL;
    private long v2 = 0x6c7967656e657261L;
    private long v3 = 0x7465646279746573L;

    private EntityHash() {
    }

    /** The hash of an entity id, an unsigned 64-bit number held in a long. */
    public static long of(String entityId) {
        byte[] b = entityId.getBytes(StandardCharsets.UTF_8);
        EntityHash h = new EntityHash();
        int whole = b.length & ~7;
        for (int i = 0; i < whole; i += 8) {
            h.compress(littleEndian(b, i, 8));
        }
        h.compress(((long) b.length << 56) | littleEndian(b, whole, b.length - whole));
        h.v2 ^= 0xff;
        h.rounds(4);
        return h.v0 ^ h.v1 ^ h.v2 ^ h.v3;
    }

    /** Which of {@code shards} shards the entity belongs to: its hash, unsigned, modulo the count. */
    public static int shard(String entityId, int shards) {
        return (int) Long.remainderUnsigned(of(entityId), shards);
    }

    private void compress(long m) {
        v3 ^= m;
        rounds(2);
        v0 ^= m;
    }

    private void rounds(int n) {
        for (int r = 0; r < n; r++) {
            v0 += v1;
            v1 = Long.rotateLeft(v1, 13) ^ v0;
            v0 = Long.rotateLeft(v0, 32);
            v2 += v3;
            v3 = Long.rotateLeft(v3, 16) ^ v2;
            v0 += v3;
            v3 = Long.rotateLeft(v3, 21) ^ v0;
            v2 += v1;
            v1 = Long.rotateLeft(v1, 17) ^ v2;
            v2 = Long.rotateLeft(v2, 32);
        }
    }

    private static long littleEndian(byte[] b, int from, int n) {
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = (v << 8) | (b[from + i] & 0xffL);
        }
        return v;
    }
}
