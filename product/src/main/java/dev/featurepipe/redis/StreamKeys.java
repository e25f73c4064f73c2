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

    /** The live consumer processes of a group, by when each one's lease ends (a sorted set). */
    public static String workers(String stream, String group) {
        return stream + ":workers:" + group;
    }

    /** The name of the process of a group holding a shard, while its lease lasts. */
    public static String lease(String shard, String group) {
        return shard + ":lease:" + group;
    }

    /** The online state of one feature of one entity: a hash of tiles, or a sorted set for last_n. */
    public static String feature(String shard, String entity, String id, String feature) {
        return shard + ":" + entity + ":" + id + ":" + feature;
    }

    /**
     * Window values of one entity as last computed, by served name, with the generation of the entity's state they
     * were computed from (a hash, {@link dev.featurepipe.online.WindowCache}).
     */
    public static String windowCache(String shard, String entity, String id) {
        return shard + ":" + entity + ":" + id + ":@windows";
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
