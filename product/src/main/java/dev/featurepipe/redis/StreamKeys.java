package dev.featurepipe.redis;

/**
 * Names of the Redis keys featurepipe keeps beside each shard's stream and per entity. Those of an entity start
 * with its shard's stream ({@link Shards#prefixOf}), those of a shard with the shard's stream.
 */
public final class StreamKeys {
    private StreamKeys() {
    }

    /** Remembers that ingest appended an event, by its {@link dev.featurepipe.core.Event#key() key} (value: its position in the stream). */
    static String ingestedMark(String stream, String eventKey) {
        return stream + ":ingested:" + eventKey;
    }

    /** Marks an event, by its {@link dev.featurepipe.core.Event#key() key}, as applied to the online store. */
    static String appliedMark(String shard, String eventKey) {
        return shard + ":applied:" + eventKey;
    }

    /** Where entries that cannot be processed are kept, with the reason. */
    public static String deadLetters(String stream) {
        return stream + ":dead";
    }

    /** Failed attempts at each pending entry of a group, by entry id (a hash; an entry's field goes with its XACK). */
    public static String failures(String stream, String group) {
        return stream + ":failures:" + group;
    }

    /** The number of shards the stream was made with. */
    static String shardCount(String stream) {
        return stream + ":shards";
    }

    /** The layout of the online state under the stream ({@link Shards#check}). */
    static String layout(String stream) {
        return stream + ":layout";
    }

    /** The live consumer processes of a group, by when each one's lease ends (a sorted set). */
    public static String workers(String stream, String group) {
        return stream + ":workers:" + group;
    }

    /** The name of the process of a group holding a shard, while its lease lasts. */
    public static String lease(String shard, String group) {
        return shard + ":lease:" + group;
    }

    /** The value of a batch feature of one entity (a string). */
    public static String feature(String shard, String entity, String id, String feature) {
        return shard + ":" + entity + ":" + id + ":" + feature;
    }

    /**
     * The online state of one entity, a hash: the tiles of its features but their distinct values, the recent values
     * of its last_n features, and its window cache ({@link dev.featurepipe.online.WindowCache}) with the generation
     * of its state.
     */
    public static String state(String shard, String entity, String id) {
        return shard + ":" + entity + ":" + id + ":@state";
    }

    /** The distinct values of one entity's count_distinct features in windows, by tile (a hash). */
    public static String distinct(String shard, String entity, String id) {
        return shard + ":" + entity + ":" + id + ":@distinct";
    }

    /** The distinct values of one entity's count_distinct features over its lifetime (a hash). */
    public static String seen(String shard, String entity, String id) {
        return shard + ":" + entity + ":" + id + ":@seen";
    }

    /** The marks of a batch feature's materialization runs (a hash). */
    public static String batchMarks(String stream, String feature) {
        return stream + ":batch:" + feature;
    }

    /** Held by the process materializing a batch feature. */
    static String batchLock(String stream, String feature) {
        return stream + ":batch:" + feature + ":lock";
    }
}
