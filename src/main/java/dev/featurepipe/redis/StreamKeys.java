package dev.featurepipe.redis;

/** Names of the Redis keys featurepipe keeps beside its stream and per entity. */
final class StreamKeys {
    private StreamKeys() {
    }

    /** Remembers that ingest appended an event_id (value: its stream id). */
    static String ingestedMark(String stream, String eventId) {
        return stream + ":ingested:" + eventId;
    }

    /** Marks an event as applied to the online store. */
    static String appliedMark(String stream, String eventId) {
        return stream + ":applied:" + eventId;
    }

    /** Where entries that cannot be processed are kept, with the reason. */
    static String deadLetters(String stream) {
        return stream + ":dead";
    }

    /** Hash of an entity's window tiles, fields {@code <feature>|<tile ms>|<tile start>}. */
    static String tiles(String entity, String id) {
        return "fp:" + entity + ":" + id + ":tiles";
    }

    /** Sorted set of a last_n feature's values, scored by event time. */
    static String recent(String entity, String id, String feature) {
        return "fp:" + entity + ":" + id + ":last:" + feature;
    }
}
