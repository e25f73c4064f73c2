/**
 * The consumer runtime: the loop that reads batches from an {@link dev.featurepipe.consumer.EventSource}, hands them
 * to a {@link dev.featurepipe.consumer.BatchHandler}, acknowledges what was written, and sorts every failure through
 * the one {@link dev.featurepipe.consumer.ErrorPolicy}. Redis Streams is one source ({@code redis.RedisEventSource}).
 */
package dev.featurepipe.consumer;
