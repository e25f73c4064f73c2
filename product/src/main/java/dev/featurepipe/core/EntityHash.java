package dev.featurepipe.core;

import java.nio.charset.StandardCharsets;

/**
 * The one hash that places an entity, on every store that is split by entity: SipHash-2-4 with the key 0 (k0 = k1
 * = 0) of the entity id's UTF-8 bytes, read as an unsigned 64-bit number. It is ClickHouse's {@code
 * sipHash64(entity_id)}, the sharding key of the events' {@code Distributed} table, so the shard a Redis stream
 * puts an entity on and the ClickHouse shard that holds its rows are the same number: {@link #shard}.
 */
public final class EntityHash {
    private EntityHash() {
    }

    /** The hash of the id, as the bits of an unsigned 64-bit number (compare with {@link Long#compareUnsigned}). */
    public static long of(String entityId) {
        byte[] b = entityId.getBytes(StandardCharsets.UTF_8);
        // "somepseudorandomlygeneratedbytes", each word xor-ed with a key word of 0
        long[] v = {0x736f6d6570736575L, 0x646f72616e646f6dL, 0x6c7967656e657261L, 0x7465646279746573L};
        int whole = b.length & ~7;
        for (int i = 0; i < whole; i += 8) {
            compress(v, littleEndian(b, i, 8));
        }
        long last = littleEndian(b, whole, b.length - whole) | ((long) b.length << 56);
        compress(v, last);
        v[2] ^= 0xff;
        for (int i = 0; i < 4; i++) {
            round(v);
        }
        return v[0] ^ v[1] ^ v[2] ^ v[3];
    }

    /** The shard of {@code shards} (0 to shards - 1) that holds the entity: {@link #of} modulo shards, unsigned. */
    public static int shard(String entityId, int shards) {
        if (shards < 1) {
            throw new IllegalArgumentException("shards must be at least 1, not " + shards);
        }
        return (int) Long.remainderUnsigned(of(entityId), shards);
    }

    private static long littleEndian(byte[] b, int from, int n) {
        long x = 0;
        for (int i = n - 1; i >= 0; i--) {
            x = (x << 8) | (b[from + i] & 0xffL);
        }
        return x;
    }

    /** One message word, two SipRounds (the "2" of SipHash-2-4). */
    private static void compress(long[] v, long m) {
        v[3] ^= m;
        round(v);
        round(v);
        v[0] ^= m;
    }

    private static void round(long[] v) {
        v[0] += v[1];
        v[1] = Long.rotateLeft(v[1], 13);
        v[1] ^= v[0];
        v[0] = Long.rotateLeft(v[0], 32);
        v[2] += v[3];
        v[3] = Long.rotateLeft(v[3], 16);
        v[3] ^= v[2];
        v[0] += v[3];
        v[3] = Long.rotateLeft(v[3], 21);
        v[3] ^= v[0];
        v[2] += v[1];
        v[1] = Long.rotateLeft(v[1], 17);
        v[1] ^= v[2];
        v[2] = Long.rotateLeft(v[2], 32);
    }
}
