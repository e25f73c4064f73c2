package dev.featurepipe.mongo;

import com.mongodb.ErrorCategory;
import com.mongodb.MongoBulkWriteException;
import com.mongodb.MongoException;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.BulkWriteOptions;
import com.mongodb.client.model.Filters;
import com.mongodb.client.model.Projections;
import com.mongodb.client.model.PushOptions;
import com.mongodb.client.model.UpdateOneModel;
import com.mongodb.client.model.UpdateOptions;
import com.mongodb.client.model.Updates;
import com.mongodb.client.model.WriteModel;
import dev.featurepipe.core.BoundedMaps;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.ProfileStore;
import dev.featurepipe.core.StoreUnavailableException;
import dev.featurepipe.core.expr.Evaluator;
import dev.featurepipe.core.expr.Expr;
import dev.featurepipe.core.registry.ProfileFeature;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.ServedFeature;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bson.BSONException;
import org.bson.Document;
import org.bson.types.Decimal128;
import org.bson.conversions.Bson;

/**
 * Profiles as MongoDB documents, one collection per entity, {@code _id} the entity id. A batch's events are folded
 * into one update per document, guarded by {@code _applied}: the {@link Event#key() keys} of the events of the
 * document's last updates, one element {@code {ids: [..]}} per update. A redelivered event changes nothing: the guard no longer matches, and
 * the upsert then fails on the duplicate {@code _id}. The guard's cost grows with the ids it holds, so it keeps
 * the last updates rather than the last events: a document holds its own events of its last few updates, not the
 * last thousands of every busy customer.
 */
public final class MongoProfileStore implements ProfileStore {
    static final String APPLIED = "_applied";
    private static final String IDS = "ids";
    private static final String APPLIED_IDS = APPLIED + "." + IDS;
    /** Rounds of "read what is applied, apply the rest" before a document that keeps changing fails its batch. */
    private static final int REMAINDER_ROUNDS = 5;
    /** How many (document, set_once field) pairs the store remembers as set: about 150 bytes each. */
    private static final int KNOWN_SET_ONCE = 100_000;

    private final MongoDatabase db;
    private final Registry registry;
    private final int appliedUpdates;
    /**
     * The set_once fields of documents that this store wrote or found set: set where absent, they never change
     * again, so they are not sent again. One it forgot is sent once more and changes nothing.
     */
    private final Set<String> knownSetOnce = Collections.newSetFromMap(BoundedMaps.leastRecentlyUsedFirst(KNOWN_SET_ONCE));

    /**
     * @param appliedUpdates how many updates a profile remembers the events of; at least the batches a consumer
     *                       may deliver again (each makes at most one update per document)
     */
    public MongoProfileStore(MongoDatabase db, Registry registry, int appliedUpdates) {
        this.db = db;
        this.registry = registry;
        this.appliedUpdates = appliedUpdates;
    }

    @Override
    public void apply(List<Event> events) {
        Map<String, Map<String, Map<String, Event>>> byEntity = new LinkedHashMap<>(); // entity, document, event key
        for (Event e : events) {
            if (!registry.profilesOf(e.type()).isEmpty()) {
                String entity = registry.eventType(e.type()).orElseThrow().entity();
                byEntity.computeIfAbsent(entity, k -> new LinkedHashMap<>())
                        .computeIfAbsent(e.entityId(), k -> new LinkedHashMap<>())
                        .putIfAbsent(e.key(), e); // the same event twice in a batch counts once
            }
        }
        byEntity.forEach((entity, documents) -> {
            Map<String, List<Event>> eventsById = new LinkedHashMap<>();
            documents.forEach((id, ofDocument) -> eventsById.put(id, List.copyOf(ofDocument.values())));
            applyToCollection(entity, eventsById);
        });
    }

    /**
     * One update per document, folding all of its events, guarded by none of them having been applied. A
     * duplicate key means the guard failed (some were applied by an earlier delivery of a differently cut batch)
     * or another consumer created the document at the same moment; then the events the document does not hold
     * yet are applied ({@link #applyRemainder}).
     */
    private void applyToCollection(String entity, Map<String, List<Event>> eventsById) {
        List<String> ids = new ArrayList<>(eventsById.keySet());
        List<Folded> folded = ids.stream().map(id -> fold(eventsById.get(id))).toList();
        List<WriteModel<Document>> writes = new ArrayList<>(ids.size());
        for (int i = 0; i < ids.size(); i++) {
            writes.add(update(ids.get(i), folded.get(i)));
        }
        // set_once fields are set where still absent: idempotent by nature, so outside the guard, and never an
        // upsert, so only the guarded updates can fail as duplicates
        List<String> setOnce = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            String id = ids.get(i);
            folded.get(i).setOnce().forEach((field, value) -> {
                String known = entity + '\0' + id + '\0' + field;
                if (!knownSetOnce.contains(known)) {
                    setOnce.add(known);
                    writes.add(new UpdateOneModel<>(byId(id, field, new Document("$exists", false)), Updates.set(field, value)));
                }
            });
        }
        for (int failed : write(entity, writes)) {
            applyRemainder(entity, ids.get(failed), eventsById.get(ids.get(failed)));
        }
        knownSetOnce.addAll(setOnce);
    }

    /**
     * Applies, in one update, the events the document's remembered updates do not hold, guarded again: another
     * consumer may apply some of them in between, and then the next round reads again.
     */
    private void applyRemainder(String entity, String id, List<Event> events) {
        for (int round = 0; round < REMAINDER_ROUNDS; round++) {
            Set<String> applied = appliedIds(entity, id);
            List<Event> remaining = events.stream().filter(e -> !applied.contains(e.key())).toList();
            if (remaining.isEmpty() || write(entity, List.of(update(id, fold(remaining)))).isEmpty()) {
                return;
            }
        }
        throw new StoreUnavailableException("MongoDB: the profile " + entity + " " + id + " changed in each of "
                + REMAINDER_ROUNDS + " rounds of applying a batch's events; the batch is handled again");
    }

    private Set<String> appliedIds(String entity, String id) {
        Set<String> ids = new HashSet<>();
        try {
            Document doc = db.getCollection(entity).find(Filters.eq("_id", id)).projection(Projections.include(APPLIED)).first();
            for (Object update : doc == null ? List.of() : doc.getList(APPLIED, Object.class, List.of())) {
                if (update instanceof Document d) {
                    ids.addAll(d.getList(IDS, String.class, List.of()));
                } else if (update instanceof String eventId) { // a document written before updates were remembered
                    ids.add(eventId);
                }
            }
            return ids;
        } catch (MongoException e) {
            throw MongoErrors.translate("reading the applied events of " + entity + " " + id, e);
        }
    }

    /** A document's events folded per rule: set keeps the last value, set_once the first, inc the sum. */
    private record Folded(List<String> eventIds, Map<String, Object> set, Map<String, Object> setOnce,
                          Map<String, Number> inc, Map<String, Object> max, Map<String, Object> min) {
    }

    private Folded fold(List<Event> events) {
        Folded f = new Folded(events.stream().map(Event::key).toList(), new LinkedHashMap<>(), new LinkedHashMap<>(),
                new LinkedHashMap<>(), new LinkedHashMap<>(), new LinkedHashMap<>());
        for (Event e : events) {
            for (ProfileFeature p : registry.profilesOf(e.type())) {
                Object value = p.filter() == null || Evaluator.test(p.filter(), e.fields())
                        ? Evaluator.value(p.value(), e.fields()) : null;
                if (value == null) {
                    continue;
                }
                switch (p.rule()) {
                    case SET -> f.set().put(p.name(), value);
                    case SET_ONCE -> f.setOnce().putIfAbsent(p.name(), value);
                    case INC -> f.inc().merge(p.name(), (Number) value, MongoProfileStore::add);
                    case MAX -> f.max().merge(p.name(), value, (a, b) -> Evaluator.compare(a, b) >= 0 ? a : b);
                    case MIN -> f.min().merge(p.name(), value, (a, b) -> Evaluator.compare(a, b) <= 0 ? a : b);
                }
            }
        }
        return f;
    }

    private WriteModel<Document> update(String id, Folded f) {
        List<Bson> updates = new ArrayList<>();
        f.set().forEach((field, value) -> updates.add(Updates.set(field, value)));
        f.inc().forEach((field, value) -> updates.add(Updates.inc(field, value)));
        f.max().forEach((field, value) -> updates.add(Updates.max(field, value)));
        f.min().forEach((field, value) -> updates.add(Updates.min(field, value)));
        updates.add(Updates.pushEach(APPLIED, List.of(new Document(IDS, f.eventIds())), new PushOptions().slice(-appliedUpdates)));
        return new UpdateOneModel<>(byId(id, APPLIED_IDS, new Document("$nin", f.eventIds())),
                Updates.combine(updates), new UpdateOptions().upsert(true));
    }

    /**
     * The document {@code id} if {@code field} meets {@code condition}, written flat ({@code {_id: .., field: ..}})
     * rather than as {@code $and}: a real MongoDB finds it by the _id index either way, the embedded server only this
     * way (with {@code $and} it scans the whole collection for every update).
     */
    private static Bson byId(String id, String field, Document condition) {
        return new Document("_id", id).append(field, condition);
    }

    /**
     * Writes in order. An update whose guard fails upserts a second document with the same {@code _id} and so
     * fails as a duplicate key: those are returned (by index) and the rest goes on.
     */
    private List<Integer> write(String entity, List<WriteModel<Document>> models) {
        List<Integer> guarded = new ArrayList<>();
        if (models.isEmpty()) {
            return guarded;
        }
        int from = 0;
        while (from < models.size()) {
            try {
                db.getCollection(entity).bulkWrite(models.subList(from, models.size()), new BulkWriteOptions().ordered(true));
                return guarded;
            } catch (MongoBulkWriteException e) {
                var first = e.getWriteErrors().get(0);
                if (ErrorCategory.fromErrorCode(first.getCode()) != ErrorCategory.DUPLICATE_KEY) {
                    throw MongoErrors.translate("updating profiles of " + entity, e);
                }
                guarded.add(from + first.getIndex());
                from += first.getIndex() + 1;
            } catch (MongoException | BSONException e) {
                throw MongoErrors.translate("updating profiles of " + entity, e);
            }
        }
        return guarded;
    }

    /**
     * A decimal profile field at its value's scale: MongoDB keeps it, but a store may give 1700.00 back as 1.7E+3
     * (the embedded server does).
     */
    private Object decimal(String entity, String field, Decimal128 stored) {
        BigDecimal value = stored.bigDecimalValue();
        if (registry.served(entity).get(field) instanceof ServedFeature.ProfileValue p && p.feature().value() instanceof Expr.Field f
                && registry.allFields().get(f.name()) != null) {
            return value.setScale(registry.allFields().get(f.name()).scale(), RoundingMode.UNNECESSARY);
        }
        return value;
    }

    private static Number add(Number a, Number b) {
        if (a instanceof BigDecimal x && b instanceof BigDecimal y) {
            return x.add(y);
        }
        return a instanceof Long && b instanceof Long ? (Number) (a.longValue() + b.longValue()) : (Number) (a.doubleValue() + b.doubleValue());
    }

    @Override
    public List<String> sampleIds(String entity, int limit) {
        try {
            List<String> ids = new ArrayList<>();
            db.getCollection(entity).find().projection(Projections.include("_id")).limit(limit)
                    .forEach(doc -> ids.add(String.valueOf(doc.get("_id"))));
            return ids;
        } catch (MongoException e) {
            throw MongoErrors.translate("sampling profiles of " + entity, e);
        }
    }

    @Override
    public Map<String, Map<String, Object>> read(String entity, List<String> ids) {
        Map<String, Map<String, Object>> profiles = new HashMap<>();
        try {
            Bson filter = ids.size() == 1 ? Filters.eq("_id", ids.get(0)) : Filters.in("_id", ids);
            for (Document doc : db.getCollection(entity).find(filter).projection(Projections.exclude(APPLIED))) {
                String id = String.valueOf(doc.remove("_id"));
                doc.replaceAll((field, value) -> value instanceof Decimal128 d ? decimal(entity, field, d) : value);
                profiles.put(id, doc);
            }
            return profiles;
        } catch (MongoException e) {
            throw MongoErrors.translate("reading " + ids.size() + " profile(s) of " + entity, e);
        }
    }
}
