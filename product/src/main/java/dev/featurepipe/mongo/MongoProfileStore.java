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
import dev.featurepipe.core.FieldType;
import dev.featurepipe.core.ProfileStore;
import dev.featurepipe.core.SequencedEvent;
import dev.featurepipe.core.StoreUnavailableException;
import dev.featurepipe.core.expr.Evaluator;
import dev.featurepipe.core.registry.EventTypeDef;
import dev.featurepipe.core.registry.ProfileFeature;
import dev.featurepipe.core.registry.ProfileRule;
import dev.featurepipe.core.registry.Registry;
import dev.featurepipe.core.registry.ServedFeature;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
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
 * A set field keeps the value of the latest event by event time (ties by event id), a set_once field the earliest's:
 * each keeps the {@link EventStamp stamp} of its event in {@code _at}, so a profile does not depend on the order the
 * events arrive in, nor on which consumer applied them.
 */
public final class MongoProfileStore implements ProfileStore {
    static final String VERSION = "_v";
    static final String APPLIED_UP_TO = "_seq";
    static final String APPLIED_ABOVE = "_above";
    static final String STAMPS = "_at";
    /** The guard of the versions before numbers were kept; not read any more, never served. */
    private static final String LEGACY_GUARD = "_applied";
    private static final Bson SERVED = Projections.exclude(VERSION, APPLIED_UP_TO, APPLIED_ABOVE, STAMPS, LEGACY_GUARD);
    /** Rounds of "read the numbers, apply the rest" before a document that keeps changing fails its batch. */
    private static final int REMAINDER_ROUNDS = 5;
    /** How many documents' numbers and stamps the store remembers as it last wrote or read them: about 300 bytes each. */
    private static final int KNOWN_DOCUMENTS = 100_000;
    private static final Logger log = LoggerFactory.getLogger(MongoProfileStore.class);

    private final MongoDatabase db;
    private final Registry registry;
    private final int maxOutOfOrder;
    /** Documents as this store last saw them; one another consumer changed since fails its update once. */
    private final Map<String, Known> known = BoundedMaps.leastRecentlyUsedFirst(KNOWN_DOCUMENTS);
    /** Per entity, the names of its set_once fields. */
    private final Map<String, Set<String>> setOnceFields = new HashMap<>();
    private final LongAdder givenUp = new LongAdder();

    /**
     * @param maxOutOfOrder how many numbers a document keeps above one it has not seen before giving that one up
     */
    public MongoProfileStore(MongoDatabase db, Registry registry, int maxOutOfOrder) {
        this.db = db;
        this.registry = registry;
        this.maxOutOfOrder = maxOutOfOrder;
        for (EventTypeDef type : registry.eventTypes()) {
            for (ProfileFeature p : registry.profilesOf(type.name())) {
                if (p.rule() == ProfileRule.SET_ONCE) {
                    setOnceFields.computeIfAbsent(p.entity(), k -> new HashSet<>()).add(p.name());
                }
            }
        }
    }

    /** A document's update: what the store knows of it once written, and the gaps it gives up. */
    private record Update(String id, Known after, int givenUp, WriteModel<Document> write) {
    }

    /** What the store knows of a document: its numbers, and the stamps of its set and set_once fields. */
    private record Known(AppliedNumbers numbers, Map<String, EventStamp> stamps) {
        static final Known NONE = new Known(AppliedNumbers.NONE, Map.of());
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
        readKnown(entity, eventsById.keySet().stream().filter(id -> !known.containsKey(entity + '\0' + id)).toList());
        Map<String, List<SequencedEvent>> left = eventsById;
        for (int round = 0; round < REMAINDER_ROUNDS; round++) {
            List<Update> updates = new ArrayList<>();
            left.forEach((id, ofDocument) -> {
                Known before = known.getOrDefault(entity + '\0' + id, Known.NONE);
                List<SequencedEvent> remaining = ofDocument.stream().filter(e -> !before.numbers().holds(e.sequence())).toList();
                if (!remaining.isEmpty()) {
                    AppliedNumbers.Next numbers = before.numbers().with(remaining, maxOutOfOrder);
                    Folded folded = fold(remaining, before.stamps());
                    Map<String, EventStamp> stamps = new HashMap<>(before.stamps());
                    stamps.putAll(folded.stamps());
                    updates.add(new Update(id, new Known(numbers.numbers(), stamps), numbers.givenUp(),
                            update(id, before.numbers(), numbers.numbers(), folded)));
                }
            });
            Set<Integer> failed = new HashSet<>(write(entity, updates.stream().map(Update::write).toList()));
            Map<String, List<SequencedEvent>> again = new LinkedHashMap<>();
            for (int i = 0; i < updates.size(); i++) {
                Update u = updates.get(i);
                if (failed.contains(i)) {
                    again.put(u.id(), left.get(u.id()));
                } else {
                    known.put(entity + '\0' + u.id(), u.after());
                    giveUp(entity, u.id(), u.givenUp());
                }
            }
            if (again.isEmpty()) {
                return;
            }
            readKnown(entity, List.copyOf(again.keySet()));
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

    /** Reads these documents' numbers and stamps into {@link #known}, {@link Known#NONE} for those absent. */
    private void readKnown(String entity, List<String> ids) {
        if (ids.isEmpty()) {
            return;
        }
        ids.forEach(id -> known.put(entity + '\0' + id, Known.NONE));
        try {
            for (Document doc : db.getCollection(entity).find(Filters.in("_id", ids))) {
                List<Long> above = new ArrayList<>();
                doc.getList(APPLIED_ABOVE, Number.class, List.of()).forEach(n -> above.add(n.longValue()));
                Map<String, EventStamp> stamps = new HashMap<>();
                doc.get(STAMPS, new Document()).forEach((field, stamp) -> stamps.put(field, EventStamp.fromDocument((Document) stamp)));
                for (String field : setOnceFields.getOrDefault(entity, Set.of())) {
                    if (doc.containsKey(field)) { // kept before stamps were: it keeps its value
                        stamps.putIfAbsent(field, EventStamp.FIRST);
                    }
                }
                known.put(entity + '\0' + doc.get("_id"), new Known(new AppliedNumbers(number(doc, VERSION),
                        number(doc, APPLIED_UP_TO), above, true), stamps));
            }
        } catch (MongoException | ClassCastException e) {
            throw MongoErrors.translate("reading " + ids.size() + " profile(s) of " + entity + " to update them", e);
        }
    }

    private static long number(Document doc, String field) {
        return doc.get(field) instanceof Number n ? n.longValue() : 0;
    }

    /**
     * A document's events folded per rule: set keeps the value of the latest event by event time, set_once the
     * earliest's, each only if its event stands beyond the one whose value the document holds; inc adds, max and
     * min keep the extremes.
     */
    private record Folded(Map<String, Object> set, Map<String, EventStamp> stamps, Map<String, Number> inc,
                          Map<String, Object> max, Map<String, Object> min) {
    }

    private Folded fold(List<SequencedEvent> events, Map<String, EventStamp> held) {
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
                    case SET, SET_ONCE -> {
                        EventStamp stamp = EventStamp.of(e);
                        EventStamp current = f.stamps().getOrDefault(p.name(), held.get(p.name()));
                        int order = current == null ? 1 : stamp.compareTo(current);
                        if (p.rule() == ProfileRule.SET ? order > 0 : current == null || order < 0) {
                            f.set().put(p.name(), value);
                            f.stamps().put(p.name(), stamp);
                        }
                    }
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
        f.stamps().forEach((field, stamp) -> updates.add(Updates.set(STAMPS + "." + field, stamp.toDocument())));
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
     * Writes in order. An update whose version is not the document's upserts a second document with the same
     * {@code _id} and so fails as a duplicate key: those are returned (by index) and the rest goes on.
     */
    private List<Integer> write(String entity, List<WriteModel<Document>> models) {
        List<Integer> conflicts = new ArrayList<>();
        if (models.isEmpty()) {
            return conflicts;
        }
        int from = 0;
        while (from < models.size()) {
            try {
                db.getCollection(entity).bulkWrite(models.subList(from, models.size()), new BulkWriteOptions().ordered(true));
                return conflicts;
            } catch (MongoBulkWriteException e) {
                var first = e.getWriteErrors().get(0);
                if (ErrorCategory.fromErrorCode(first.getCode()) != ErrorCategory.DUPLICATE_KEY) {
                    throw MongoErrors.translate("updating profiles of " + entity, e);
                }
                conflicts.add(from + first.getIndex());
                from += first.getIndex() + 1;
            } catch (MongoException | BSONException e) {
                throw MongoErrors.translate("updating profiles of " + entity, e);
            }
        }
        return conflicts;
    }

    /**
     * A decimal profile field at its value's scale: MongoDB keeps it, but a store may give 1700.00 back as 1.7E+3
     * (the embedded server does).
     */
    private Object decimal(String entity, String field, Decimal128 stored) {
        BigDecimal value = stored.bigDecimalValue();
        if (registry.served(entity).get(field) instanceof ServedFeature.ProfileValue p && p.feature().value().type() == FieldType.DECIMAL) {
            return value.setScale(p.feature().scale(), RoundingMode.UNNECESSARY);
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
