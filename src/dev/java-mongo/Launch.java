// Starts mongo-java-server (de.bwaldvogel) on 127.0.0.1:<port>: the MongoDB-protocol server the
// tests, `npm run dev` and the bench use when there is neither MONGODB_URI nor a mongod
// (src/dev/java-mongo.ts fetches the jars and runs this file as a single-file source program).
//
//   java -cp '<lib>/*' Launch.java <port>            memory backend
//   java -cp '<lib>/*' Launch.java <port> <h2-file>  H2 MVStore file: data survives a restart
//
// Prints "READY mongodb://127.0.0.1:<port>/" once it listens.
//
// Why a launcher and not the jar's own main classes:
// 1. Those bind localhost:27017 only, and report wire version 8 (MongoDB 5.0), below what the
//    mongoose 9 driver accepts; this one takes a port and reports 17 (MongoDB 6.0).
// 2. mongo-java-server 1.47.0 answers a query from a unique index only when the filter's keys are
//    exactly the index's keys. Our guarded update {_id: "c1", version: 3} therefore scanned the
//    whole collection: every write cost O(collection size), so throughput fell as collections
//    grew (shared/docs/mongo-compat.md, "Direction"). Here every unique index (the _id index and
//    those the application creates) also accepts a filter that names all of the index's keys
//    (plain values or $in) plus other fields: it returns the candidates found by the index keys
//    alone, and the collection still matches the whole filter against each candidate, so a guard
//    that misses still matches nothing. A filter without all the index keys scans, as before.
// 3. With a file, every command is committed to the MVStore before it is answered, so a killed
//    server keeps every acknowledged write (H2 itself commits about once a second).
import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.backend.memory.MemoryDatabase;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.KeyConstraintError;
import io.netty.channel.Channel;
import java.util.List;
import org.h2.mvstore.MVStore;

public class Launch {

    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 27017;
        MongoBackend backend = args.length > 1 ? new DurableH2Backend(MVStore.open(args[1])) : new KeyedMemoryBackend();
        MongoServer server = new MongoServer(backend.version(new MongoVersion() {
            @Override
            public List<Integer> getVersionArray() {
                return List.of(6, 0, 0);
            }

            @Override
            public int getWireVersion() {
                return 17;
            }
        }));
        server.bind("127.0.0.1", port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.out.println("READY mongodb://127.0.0.1:" + port + "/");
        System.out.flush();
        Thread.currentThread().join();
    }

    /**
     * A unique index of the library with a wider canHandle / getPositions (see the top of this
     * file); everything else is the library's index, unchanged.
     */
    static final class KeyedIndex<P> extends Index<P> {
        private final Index<P> index;

        KeyedIndex(Index<P> index, boolean sparse) {
            super(index.getName(), index.getKeys(), sparse);
            this.index = index;
        }

        /**
         * The part of `query` the index can answer: the query itself when it names exactly the
         * index's keys (the library's own case) or not all of them; otherwise only the index's
         * keys with their values. The collection matches the whole query against each candidate.
         */
        private Document indexPart(Document query) {
            if (query.keySet().equals(keySet()) || !query.keySet().containsAll(keySet())) return query;
            Document part = new Document();
            for (String key : keySet()) part.put(key, query.get(key));
            return part;
        }

        @Override
        public boolean canHandle(Document query) {
            return index.canHandle(indexPart(query));
        }

        @Override
        public Iterable<P> getPositions(Document query) {
            return index.getPositions(indexPart(query));
        }

        @Override
        public P getPosition(Document document) {
            return index.getPosition(document);
        }

        @Override
        public void checkAdd(Document document, MongoCollection<P> collection) {
            index.checkAdd(document, collection);
        }

        @Override
        public void add(Document document, P position, MongoCollection<P> collection) {
            index.add(document, position, collection);
        }

        @Override
        public P remove(Document document) {
            return index.remove(document);
        }

        @Override
        public long getCount() {
            return index.getCount();
        }

        @Override
        public boolean isEmpty() {
            return index.isEmpty();
        }

        @Override
        public long getDataSize() {
            return index.getDataSize();
        }

        @Override
        public void checkUpdate(Document oldDocument, Document newDocument, MongoCollection<P> collection) {
            index.checkUpdate(oldDocument, newDocument, collection);
        }

        @Override
        public void updateInPlace(Document oldDocument, Document newDocument, P position, MongoCollection<P> collection)
            throws KeyConstraintError {
            index.updateInPlace(oldDocument, newDocument, position, collection);
        }

        @Override
        public void drop() {
            index.drop();
        }

        @Override
        public boolean isUnique() {
            return index.isUnique();
        }
    }

    static final class KeyedMemoryBackend extends MemoryBackend {
        @Override
        public MemoryDatabase openOrCreateDatabase(String databaseName) {
            return new MemoryDatabase(databaseName, getCursorRegistry()) {
                @Override
                protected Index<Integer> openOrCreateUniqueIndex(String collection, String name, List<IndexKey> keys, boolean sparse) {
                    return new KeyedIndex<>(super.openOrCreateUniqueIndex(collection, name, keys, sparse), sparse);
                }
            };
        }
    }

    /** H2 MVStore backend; with a file, every command is committed before it is answered. */
    static final class DurableH2Backend extends H2Backend {
        DurableH2Backend(MVStore store) {
            super(store);
        }

        @Override
        protected MongoDatabase openOrCreateDatabase(String databaseName) {
            return new H2Database(databaseName, getMvStore(), getCursorRegistry()) {
                @Override
                protected Index<Object> openOrCreateUniqueIndex(String collection, String name, List<IndexKey> keys, boolean sparse) {
                    return new KeyedIndex<>(super.openOrCreateUniqueIndex(collection, name, keys, sparse), sparse);
                }
            };
        }

        /**
         * One command at a time, each committed before its reply: a kill then never leaves a
         * half-written document (its data without its index entries) on disk.
         */
        @Override
        public synchronized Document handleCommand(Channel channel, String databaseName, String command, Document query) {
            try {
                return super.handleCommand(channel, databaseName, command, query);
            } finally {
                commit();
            }
        }
    }
}
