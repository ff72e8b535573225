import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, type StartedChild, startChild } from './child.js';
import { projectRoot } from './project-root.js';

/**
 * mongo-java-server (de.bwaldvogel), the MongoDB-protocol server of the tests, `npm run dev` and
 * the bench when there is neither MONGODB_URI nor a mongod (shared/docs/mongo-compat.md §6).
 * Maven fetches the jars once into the ignored .cache/java-mongo/lib; src/dev/java-mongo/Launch.java
 * runs as a single-file source program on them (why it exists: the comment at its top).
 */
export const JAVA_MONGO_VERSION = '1.47.0';

const ARTIFACTS = ['mongo-java-server', 'mongo-java-server-h2-backend'];

export interface JavaMongo {
  /** Server URI without a database name. */
  uri: string;
  label: string;
  server: StartedChild;
  stop(): Promise<void>;
}

/** The jars' folder, fetched with Maven on first use (Java 17 and Maven Central needed). */
export function ensureJavaMongoJars(log: (msg: string) => void = () => {}): string {
  const dir = join(projectRoot(), '.cache', 'java-mongo');
  const lib = join(dir, 'lib');
  const complete = () => ARTIFACTS.every((a) => existsSync(join(lib, `${a}-${JAVA_MONGO_VERSION}.jar`)));
  if (complete()) return lib;
  mkdirSync(dir, { recursive: true });
  // Fetched into a folder of its own and renamed into place: test workers starting at the same
  // time each fetch, and the first rename wins; nobody sees a half-filled lib.
  const work = mkdtempSync(join(dir, 'fetch-'));
  const dependencies = ARTIFACTS.map(
    (a) => `    <dependency><groupId>de.bwaldvogel</groupId><artifactId>${a}</artifactId><version>${JAVA_MONGO_VERSION}</version></dependency>`,
  ).join('\n');
  writeFileSync(
    join(work, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.consent-sync</groupId><artifactId>java-mongo</artifactId><version>0</version>
  <dependencies>
${dependencies}
  </dependencies>
</project>
`,
  );
  log(`fetching mongo-java-server ${JAVA_MONGO_VERSION} with Maven into .cache/java-mongo (first run only)…`);
  try {
    const result = spawnSync('mvn', ['-q', '-B', '-f', join(work, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${join(work, 'lib')}`], {
      encoding: 'utf8',
    });
    if (result.error) {
      throw new Error(
        `No MongoDB available: MONGODB_URI is unset, no mongod can be had, and Maven (mvn) could not be run to fetch mongo-java-server (${result.error.message}). Install Java 17+ and Maven, set MONGOMS_SYSTEM_BINARY to a mongod, or set MONGODB_URI.`,
      );
    }
    if (result.status !== 0) throw new Error(`fetching mongo-java-server with Maven failed:\n${result.stdout}${result.stderr}`);
    if (!complete()) {
      rmSync(lib, { recursive: true, force: true }); // an older, incomplete fetch
      try {
        renameSync(join(work, 'lib'), lib);
      } catch (err) {
        if (!complete()) throw err; // else another worker's rename won
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return lib;
}

/**
 * Starts the server on `port` (a free one by default): in memory, or on the H2 MVStore `file`,
 * where data survives a restart on the same port and file.
 */
export async function startJavaMongo(
  opts: { port?: number; file?: string; label?: string; log?: (msg: string) => void; ownProcessGroup?: boolean } = {},
): Promise<JavaMongo> {
  const lib = ensureJavaMongoJars(opts.log);
  const port = opts.port ?? (await freePort());
  const launcher = join(projectRoot(), 'src', 'dev', 'java-mongo', 'Launch.java');
  const server = await startChild('java', ['-cp', join(lib, '*'), launcher, String(port), ...(opts.file ? [opts.file] : [])], {
    ready: /^READY /,
    timeoutMs: 60_000,
    label: opts.label ?? 'mongo-java-server',
    missingHint: 'Install a Java 17+ runtime (e.g. Debian openjdk-17-jre-headless).',
    ownProcessGroup: opts.ownProcessGroup ?? false,
  });
  // Never leave the JVM behind if this process exits without stopping it.
  const kill = () => server.child.kill('SIGKILL');
  process.once('exit', kill);
  server.child.once('exit', () => process.off('exit', kill));
  return {
    uri: server.readyLine.replace(/^READY\s+/, '').trim(),
    label: `mongo-java-server ${JAVA_MONGO_VERSION} (${opts.file ? 'H2 file' : 'in-memory'})`,
    server,
    stop: () => server.stop(),
  };
}
