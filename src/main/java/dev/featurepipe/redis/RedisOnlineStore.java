package dev.featurepipe.redis;

import dev.featurepipe.core.Event;
import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.LoggedEvent;
import dev.featurepipe.core.OnlineStore;
import dev.featurepipe.core.registry.AggregateFeature;
import dev.featurepipe.core.registry.Aggregation;
import dev.featurepipe.core.registry.FieldDef;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.ServedFeature;
import dev.featurepipe.core.registry.Window;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Online state in Redis. Per entity: one hash of window tiles ({@code <feature>|<tile ms>|<tile start>} to the
 * tile's count or sum) and one sorted set per last_n feature. Each event is applied by one script call that
 * also sets the event's applied mark, so a redelivered event changes nothing.
 */
public final class RedisOnlineStore implements OnlineStore {
    private static final long MIN_MARK_TTL_MS = Duration.ofDays(1).toMillis();
    private static final long TIMEOUT_S = 30;

    private final RedisConnections redis;
    private final Registry registry;
    private final String stream;
    private final Clock clock;
    private final long ttlMs;
    private final RedisScript applyScript;

    public RedisOnlineStore(RedisConnections redis, Registry registry, String stream, Clock clock) {
        this.redis = redis;
        this.registry = registry;
        this.stream = stream;
        this.clock = clock;
        this.ttlMs = Math.max(registry.onlineRetentionMs(), MIN_MARK_TTL_MS);
        this.applyScript = RedisScript.load(redis.shared().sync(), "apply.lua");
    }

    @Override
    public ApplyResult apply(List<LoggedEvent> events) {
        long now = clock.millis();
        List<Call> calls = new ArrayList<>(events.size());
        int late = 0;
        for (LoggedEvent logged : events) {
            Call call = callFor(logged, now);
            late += call.late ? 1 : 0;
            calls.add(call);
        }
        try {
            List<Long> results = runAll(calls);
            int applied = (int) results.stream().filter(r -> r == 1L).count();
            return new ApplyResult(applied, events.size() - applied, late);
        } catch (RedisException e) {
            throw redis.unavailable("applying " + events.size() + " events", e);
        }
    }

    private List<Long> runAll(List<Call> calls) {
        RedisAsyncCommands<String, String> async = redis.shared().async();
        List<RedisFuture<Long>> futures = new ArrayList<>(calls.size());
        for (Call c : calls) {
            futures.add(applyScript.runAsync(async, ScriptOutputType.INTEGER, c.keys, c.args));
        }
        List<Long> results = new ArrayList<>(calls.size());
        for (int i = 0; i < calls.size(); i++) {
            try {
                results.add(futures.get(i).get(TIMEOUT_S, TimeUnit.SECONDS));
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof RedisNoScriptException)) {
                    throw new RedisException("script call failed", e.getCause());
                }
                results.add(applyScript.run(redis.shared().sync(), ScriptOutputType.INTEGER, calls.get(i).keys, calls.get(i).args));
            } catch (TimeoutException e) {
                throw new RedisException("no reply in " + TIMEOUT_S + " s", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RedisException("interrupted", e);
            }
        }
        return results;
    }

    /** The keys and arguments of one apply.lua call. */
    private record Call(String[] keys, String[] args, boolean late) {
    }

    private Call callFor(LoggedEvent logged, long now) {
        Event e = logged.event();
        String entity = registry.eventType(e.type()).orElseThrow().entity();
        Map<String, Double> increments = new LinkedHashMap<>();
        List<String> keys = new ArrayList<>(List.of(StreamKeys.appliedMark(stream, e.id()), StreamKeys.tiles(entity, e.entityId())));
        List<String> recentArgs = new ArrayList<>();
        boolean late = false;
        for (AggregateFeature f : registry.aggregatesOf(e.type())) {
            if (f.aggregation() == Aggregation.LAST_N) {
                Object value = e.field(f.valueField());
                if (value != null) {
                    keys.add(StreamKeys.recent(entity, e.entityId(), f.name()));
                    recentArgs.addAll(List.of(Long.toString(e.ts()), sortable(logged.position()) + "|" + value,
                            Integer.toString(f.n())));
                }
                continue;
            }
            Double amount = f.aggregation() == Aggregation.COUNT ? Double.valueOf(1) : number(e.field(f.valueField()));
            if (amount == null) {
                continue;
            }
            Set<String> tiles = new LinkedHashSet<>();
            for (Window w : f.windows()) {
                if (w.tileStart(e.ts()) < w.lowerBound(now)) {
                    late = true; // no read from now on can include this tile
                } else {
                    tiles.add(tileField(f, w, w.tileStart(e.ts())));
                }
            }
            tiles.forEach(t -> increments.merge(t, amount, Double::sum));
        }
        List<String> args = new ArrayList<>(List.of(Long.toString(ttlMs), Integer.toString(increments.size())));
        increments.forEach((field, amount) -> {
            args.add(field);
            args.add(formatNumber(amount));
        });
        args.addAll(recentArgs);
        return new Call(keys.toArray(String[]::new), args.toArray(String[]::new), late);
    }

    @Override
    public Map<String, Map<String, Object>> read(String entity, List<String> ids, Collection<ServedFeature> features,
                                                 long now) {
        RedisAsyncCommands<String, String> async = redis.shared().async();
        boolean anyWindow = features.stream().anyMatch(f -> f instanceof ServedFeature.WindowValue);
        List<ServedFeature.RecentValues> recent = features.stream()
                .filter(ServedFeature.RecentValues.class::isInstance).map(ServedFeature.RecentValues.class::cast).toList();
        List<RedisFuture<Map<String, String>>> tileReads = new ArrayList<>(ids.size());
        List<List<RedisFuture<List<String>>>> recentReads = new ArrayList<>(ids.size());
        for (String id : ids) {
            tileReads.add(anyWindow ? async.hgetall(StreamKeys.tiles(entity, id)) : null);
            recentReads.add(recent.stream().map(r -> async.zrevrange(StreamKeys.recent(entity, id, r.feature().name()),
                    0, r.feature().n() - 1)).toList());
        }
        Map<String, Map<String, Object>> result = new LinkedHashMap<>();
        try {
            for (int i = 0; i < ids.size(); i++) {
                Map<String, Object> values = new HashMap<>();
                Map<String, String> tiles = anyWindow ? tileReads.get(i).get(TIMEOUT_S, TimeUnit.SECONDS) : Map.of();
                if (!tiles.isEmpty()) {
                    for (ServedFeature f : features) {
                        if (f instanceof ServedFeature.WindowValue w) {
                            values.put(w.name(), windowValue(tiles, w, now));
                        }
                    }
                }
                for (int r = 0; r < recent.size(); r++) {
                    List<String> members = recentReads.get(i).get(r).get(TIMEOUT_S, TimeUnit.SECONDS);
                    if (!members.isEmpty()) {
                        values.put(recent.get(r).name(), recentValues(recent.get(r).feature(), members));
                    }
                }
                result.put(ids.get(i), values);
            }
        } catch (ExecutionException | TimeoutException e) {
            throw redis.unavailable("reading features of " + ids.size() + " " + entity + "(s)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw redis.unavailable("reading features of " + ids.size() + " " + entity + "(s)", e);
        }
        return result;
    }

    private Object windowValue(Map<String, String> tiles, ServedFeature.WindowValue w, long now) {
        String prefix = w.feature().name() + "|" + w.window().tileMs() + "|";
        long from = w.window().lowerBound(now);
        double total = 0;
        for (Map.Entry<String, String> tile : tiles.entrySet()) {
            String field = tile.getKey();
            if (field.startsWith(prefix) && Long.parseLong(field, prefix.length(), field.length(), 10) >= from) {
                total += Double.parseDouble(tile.getValue());
            }
        }
        boolean integral = w.feature().aggregation() == Aggregation.COUNT
                || registry.allFields().get(w.feature().valueField()).type() == FieldType.LONG;
        return integral ? (Object) Math.round(total) : (Object) total;
    }

    private Object recentValues(AggregateFeature f, List<String> members) {
        FieldDef def = registry.allFields().get(f.valueField());
        List<Object> values = new ArrayList<>(members.size());
        for (String m : members) {
            String text = m.substring(m.indexOf('|') + 1);
            values.add(switch (def.type()) {
                case STRING -> text;
                case LONG -> Long.parseLong(text);
                case DOUBLE -> Double.parseDouble(text);
                case BOOLEAN -> Boolean.parseBoolean(text);
            });
        }
        return values;
    }

    static String tileField(AggregateFeature f, Window w, long tileStart) {
        return f.name() + "|" + w.tileMs() + "|" + tileStart;
    }

    /** A stream id padded so that ids sort as strings in stream order. */
    static String sortable(String position) {
        int dash = position.indexOf('-');
        return String.format("%015d-%010d", Long.parseLong(position.substring(0, dash)),
                Long.parseLong(position.substring(dash + 1)));
    }

    private static Double number(Object value) {
        return value instanceof Number n ? n.doubleValue() : null;
    }

    private static String formatNumber(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }
}
