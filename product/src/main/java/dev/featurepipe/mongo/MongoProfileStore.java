package dev.featurepipe.mongo;

import com.mongodb.ErrorCategory;
import com.mongodb.MongoBulkWriteException;
import com.mongodb.MongoException;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.BulkWriteOptions;
import com.mongodb.client.model.Filters;
import com.mongodb.client.model.Projections;
import com.mongodb.client.model.UpdateOneModel;
import com.mongodb.client.model.UpdateOptions;
import com.mongodb.client.model.Updates;
import com.mongodb.client.model.WriteModel;
import dev.featurepipe.core.BoundedMaps;
import dev.featurepipe.core.Event;
import dev.featurepipe.core.ProfileStore;
import dev.featurepipe.core.SequencedEvent;
import dev.featurepipe.core.StoreUnavailableException;
import dev.featurepipe.core.expr.Evaluator;
import dev.featurepipe.core.expr.Expr;
import dev.featurepipe.core.registry.ProfileFeature;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.ServedFeature;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.binder.MeterBinder;
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
import java.util.TreeMap;
import java.util.concurrent.atomic.LongAdder;
import org.bson.BSONException;
import org.bson.Document;
import org.bson.types.Decimal128;
import org.bson.conversions.Bson;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Profiles as MongoDB documents, one collection per entity, {@code _id} the entity id. A batch's events are folded
 * into one update per document. Each document keeps the {@link AppliedNumbers sequence numbers} of the events it
 * holds (numbered by the online store, in the order each entity's events are applied there), and every update is
 * conditional on the document's version: it applies only the events whose numbers the document does not hold, and
 * records their numbers in the same write. A redelivered event changes nothing, however long after; two consumers
 * applying the same events race on the version, and the loser reads the numbers again and applies what is left.
 */
public final class MongoProfileStore implements ProfileStore {
    static final String VERSION = "_v";
    static final String APPLIED_UP_TO = "_seq";
    static final String APPLIED_ABOVE = "_above";
    /** The guard of the versions before numbers were kept; not read any more, never served. */
    private static final String LEGACY_GUARD = "_applied";
    private static final Bson BOOKKEEPING = Projections.include(VERSION, APPLIED_UP_TO, APPLIED_ABOVE);
    private static final Bson SERVED = Projections.exclude(VERSION, APPLIED_UP_TO, APPLIED_ABOVE, LEGACY_GUARD);
    /** Rounds of "read the numbers, apply the rest" before a document that keeps changing fails its batch. */
    private static final int REMAINDER_ROUNDS = 5;
    /** How many (document, set_once field) pairs the store remembers as set: about 150 bytes each. */
    private static final int KNOWN_SET_ONCE = 100_000;
    /** How many documents' numbers the store remembers as it last wrote or read them: about 200 bytes each. */
    private static final int KNOWN_NUMBERS = 100_000;
    private static final Logger log = LoggerFactory.getLogger(MongoProfileStore.class);

    private final MongoDatabase db;
    private final Registry registry;
    private final int maxOutOfOrder;
    /**
     * The set_once fields of documents that this store wrote or found set: set where absent, they never change
     * again, so they are not sent again. One it forgot is sent once more and changes nothing.
     */
    private final Set<String> knownSetOnce = Collections.newSetFromMap(BoundedMaps.leastRecentlyUsedFirst(KNOWN_SET_ONCE));
    /** The numbers of documents as this store last saw them; one another consumer changed fails its update once. */
    private final Map<String, AppliedNumbers> knownNumbers = BoundedMaps.leastRecentlyUsedFirst(KNOWN_NUMBERS);
    private final LongAdder givenUp = new LongAdder();

    /**
     * @param maxOutOfOrder how many numbers a document keeps above one it has not seen before giving that one up
     */
    public MongoProfileStore(MongoDatabase db, Registry registry, int maxOutOfOrder) {
        this.db = db;
        this.registry = registry;
        this.maxOutOfOrder = maxOutOfOrder;
    }

    /** The gaps of sequence numbers given up ({@link AppliedNumbers#with}): events taken as lost to the profiles. */
    public MeterBinder metrics() {
        return metrics -> FunctionCounter.builder("featurepipe.profile.sequence.given.up", givenUp, LongAdder::sum)
                .description("gaps in a profile's event numbers given up as lost (FP_PROFILE_MAX_OUT_OF_ORDER)")
                .register(metrics);
    }

    @Override
    public void apply(List<SequencedEvent> events) {
        Map<String, Map<String, Map<Long, SequencedEvent>>> byEntity = new LinkedHashMap<>(); // entity, document, number
        for (SequencedEvent e : events) {
            if (!registry.profilesOf(e.event().type()).isEmpty()) {
                String entity = registry.eventType(e.event().type()).orElseThrow().entity();
                byEntity.computeIfAbsent(entity, k -> new LinkedHashMap<>())
                        .computeIfAbsent(e.event().entityId(), k -> new TreeMap<>())
                        .putIfAbsent(e.sequence(), e); // the same event twice in a batch counts once
            }
        }
        byEntity.forEach((entity, documents) -> {
            Map<String, List<SequencedEvent>> eventsById = new LinkedHashMap<>();
            documents.forEach((id, ofDocument) -> eventsById.put(id, List.copyOf(ofDocument.values())));
            applyToCollection(entity, eventsById);
        });
    }

    /**
     * One update per document, folding the events it does not hold, conditional on the version the store knows
     * (read first for a document it does not know). A document whose version changed meanwhile fails as a
     * duplicate key; its numbers are read again and the rest applied, for up to {@link #REMAINDER_ROUNDS} rounds.
     */
    private void applyToCollection(String entity, Map<String, List<SequencedEvent>> eventsById) {
        readNumbers(entity, eventsById.keySet().stream().filter(id -> !knownNumbers.containsKey(entity + '\0' + id)).toList());
        List<String> setOnceFields = new ArrayList<>();
        List<WriteModel<Document>> setOnce = setOnceWrites(entity, eventsById, setOnceFields);
        Map<String, List<SequencedEvent>> left = eventsById;
        for (int round = 0; round < REMAINDER_ROUNDS; round++) {
            List<String> ids = new ArrayList<>();
            List<AppliedNumbers.Next> next = new ArrayList<>();
            List<WriteModel<Document>> writes = new ArrayList<>();
            left.forEach((id, ofDocument) -> {
                AppliedNumbers numbers = knownNumbers.getOrDefault(entity + '\0' + id, AppliedNumbers.NONE);
                List<SequencedEvent> remaining = ofDocument.stream().filter(e -> !numbers.holds(e.sequence())).toList();
                if (!remaining.isEmpty()) {
                    AppliedNumbers.Next after = numbers.with(remaining, maxOutOfOrder);
                    ids.add(id);
                    next.add(after);
                    writes.add(update(id, numbers, after.numbers(), fold(remaining)));
                }
            });
            writes.addAll(setOnce); // after the updates, which create the documents
            setOnce = List.of();
            Set<Integer> failed = new HashSet<>(write(entity, writes));
            knownSetOnce.addAll(setOnceFields);
            setOnceFields.clear();
            Map<String, List<SequencedEvent>> again = new LinkedHashMap<>();
            for (int i = 0; i < ids.size(); i++) {
                if (failed.contains(i)) {
                    again.put(ids.get(i), left.get(ids.get(i)));
                } else {
                    knownNumbers.put(entity + '\0' + ids.get(i), next.get(i).numbers());
                    giveUp(entity, ids.get(i), next.get(i).givenUp());
                }
            }
            if (again.isEmpty()) {
                return;
            }
            readNumbers(entity, List.copyOf(again.keySet()));
            left = again;
        }
        throw new StoreUnavailableException("MongoDB: " + left.size() + " profile(s) of " + entity + " changed in each of "
                + REMAINDER_ROUNDS + " rounds of applying a batch's events; the batch is handled again");
    }

    private void giveUp(String entity, String id, int gaps) {
        if (gaps > 0) {
            givenUp.add(gaps);
            log.warn("profile {} {}: gave up waiting for the events of {} gap(s) in its numbers, after more than {} "
                    + "later events were applied (FP_PROFILE_MAX_OUT_OF_ORDER); they are not counted in the profile",
                    entity, id, gaps, maxOutOfOrder);
        }
    }

    /**
     * set_once fields are set where still absent: idempotent by nature, so outside the numbers, and never upserts.
     * Adds the (document, field) pairs written to {@code fields}.
     */
    private List<WriteModel<Document>> setOnceWrites(String entity, Map<String, List<SequencedEvent>> eventsById,
                                                     List<String> fields) {
        List<WriteModel<Document>> writes = new ArrayList<>();
        eventsById.forEach((id, ofDocument) -> fold(ofDocument).setOnce().forEach((field, value) -> {
            String known = entity + '\0' + id + '\0' + field;
            if (!knownSetOnce.contains(known)) {
                fields.add(known);
                writes.add(new UpdateOneModel<>(byId(id, field, new Document("$exists", false)), Updates.set(field, value)));
            }
        }));
        return writes;
    }

    /** Reads the numbers of these documents into {@link #knownNumbers}, {@link AppliedNumbers#NONE} for those absent. */
    private void readNumbers(String entity, List<String> ids) {
        if (ids.isEmpty()) {
            return;
        }
        ids.forEach(id -> knownNumbers.put(entity + '\0' + id, AppliedNumbers.NONE));
        try {
            for (Document doc : db.getCollection(entity).find(Filters.in("_id", ids)).projection(BOOKKEEPING)) {
                List<Long> above = new ArrayList<>();
                doc.getList(APPLIED_ABOVE, Number.class, List.of()).forEach(n -> above.add(n.longValue()));
                knownNumbers.put(entity + '\0' + doc.get("_id"), new AppliedNumbers(number(doc, VERSION),
                        number(doc, APPLIED_UP_TO), above, true));
            }
        } catch (MongoException e) {
            throw MongoErrors.translate("reading the applied numbers of " + ids.size() + " profile(s) of " + entity, e);
        }
    }

    private static long number(Document doc, String field) {
        return doc.get(field) instanceof Number n ? n.longValue() : 0;
    }

    /** A document's events folded per rule: set keeps the last value, set_once the first, inc the sum. */
    private record Folded(Map<String, Object> set, Map<String, Object> setOnce, Map<String, Number> inc,
                          Map<String, Object> max, Map<String, Object> min) {
    }

    private Folded fold(List<SequencedEvent> events) {
        Folded f = new Folded(new LinkedHashMap<>(), new LinkedHashMap<>(), new LinkedHashMap<>(), new LinkedHashMap<>(),
                new LinkedHashMap<>());
        for (SequencedEvent sequenced : events) {
            Event e = sequenced.event();
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

    /** The update of a document from {@code before} to {@code after}, an upsert only if it is at {@code before}'s version. */
    private static WriteModel<Document> update(String id, AppliedNumbers before, AppliedNumbers after, Folded f) {
        List<Bson> updates = new ArrayList<>();
        f.set().forEach((field, value) -> updates.add(Updates.set(field, value)));
        f.inc().forEach((field, value) -> updates.add(Updates.inc(field, value)));
        f.max().forEach((field, value) -> updates.add(Updates.max(field, value)));
        f.min().forEach((field, value) -> updates.add(Updates.min(field, value)));
        updates.add(Updates.set(VERSION, after.version()));
        updates.add(Updates.set(APPLIED_UP_TO, after.upTo()));
        updates.add(Updates.set(APPLIED_ABOVE, after.above()));
        Document version = before.version() == 0 ? new Document("$exists", false) : new Document("$eq", before.version());
        return new UpdateOneModel<>(byId(id, VERSION, version), Updates.combine(updates), new UpdateOptions().upsert(true));
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
     * Writes in order. An update whose version is not the document's upserts a second document with the same {@code _id} and so
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
            for (Document doc : db.getCollection(entity).find(filter).projection(SERVED)) {
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
