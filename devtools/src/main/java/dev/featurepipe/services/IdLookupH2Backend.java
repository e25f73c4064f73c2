package dev.featurepipe.services;

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Collection;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.bson.Document;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;

/**
 * The embedded server's H2 file backend, finding a document by its {@code _id} index when the filter names
 * {@code _id} and other fields too, as MongoDB does. The stock backend uses an index only for a filter on exactly
 * the index's fields, so every conditional profile update ({@code {_id: .., _v: ..}}) scanned the
 * whole collection.
 */
final class IdLookupH2Backend extends H2Backend {
    IdLookupH2Backend(MVStore store) {
        super(store);
    }

    @Override
    protected MongoDatabase openOrCreateDatabase(String name) {
        return new Database(name, getCursorRegistry());
    }

    /** Inner, for the backend's store: the superclass constructor already opens the databases the store holds. */
    private final class Database extends H2Database {
        Database(String name, CursorRegistry cursors) {
            super(name, getMvStore(), cursors);
        }

        @Override
        protected MongoCollection<Object> openOrCreateCollection(String name, CollectionOptions options) {
            String namespace = getFullCollectionNamespace(name); // the map names H2Database gives a collection
            MVStore store = getMvStore();
            return new Collection(this, name, options, store.openMap("databases." + namespace), store.openMap("meta." + namespace),
                    cursorRegistry);
        }
    }

    private static final class Collection extends H2Collection {
        Collection(MongoDatabase db, String name, CollectionOptions options,
                   MVMap<Object, Document> data, MVMap<String, Object> meta, CursorRegistry cursors) {
            super(db, name, options, data, meta, cursors);
        }

        @Override
        protected QueryResult queryDocuments(Document query, Document orderBy, int skip, int limit, int batchSize,
                                             Document fieldSelector) {
            Object id = query.get("_id");
            if (query.size() > 1 && id != null && !(id instanceof Document d && d.keySet().stream().anyMatch(k -> k.startsWith("$")))) {
                Document byId = new Document("_id", id);
                for (Index<Object> index : getIndexes()) {
                    if (index.canHandle(byId)) {
                        // the documents with that _id (at most one), each matched against the whole filter
                        return matchDocuments(query, index.getPositions(byId), orderBy, skip, limit, batchSize, fieldSelector);
                    }
                }
            }
            return super.queryDocuments(query, orderBy, skip, limit, batchSize, fieldSelector);
        }
    }
}
