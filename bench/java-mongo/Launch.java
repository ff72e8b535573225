// Starts mongo-java-server (in-memory backend) on 127.0.0.1:<port> for the benchmark
// (`npm run bench -- --mongo=java`; bench/lib/java-mongo.ts builds the classpath).
// The server reports wire version 8 by default; the mongoose 9 driver needs at least 9,
// so it is told to report 17 (MongoDB 6.0). Prints "READY <uri>" once it listens.
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.util.List;

public class Launch {
    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 27017;
        MongoVersion version = new MongoVersion() {
            @Override
            public List<Integer> getVersionArray() {
                return List.of(6, 0, 0);
            }

            @Override
            public int getWireVersion() {
                return 17;
            }
        };
        MongoServer server = new MongoServer(new MemoryBackend().version(version));
        server.bind("127.0.0.1", port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.out.println("READY mongodb://127.0.0.1:" + port + "/");
        System.out.flush();
        Thread.currentThread().join();
    }
}
