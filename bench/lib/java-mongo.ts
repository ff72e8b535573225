import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startChild } from '../../src/dev/child.js';
import { projectRoot } from '../../src/dev/mongo-server.js';

/**
 * mongo-java-server (in-memory backend) for `npm run bench -- --mongo=java`: a server whose
 * filtered updates are atomic and that is not FerretDB, so the application takes the code path
 * it takes on MongoDB (shared/docs/mongo-compat.md §6). Maven resolves the jars once into the
 * ignored .cache/java-mongo/lib; bench/java-mongo/Launch.java runs as a single-file source.
 */
export const JAVA_MONGO_VERSION = '1.47.0';

export interface JavaMongo {
  uri: string;
  label: string;
  stop(): Promise<void>;
}

function ensureJars(log: (line: string) => void): string {
  const dir = join(projectRoot(), '.cache', 'java-mongo');
  const lib = join(dir, 'lib');
  if (existsSync(join(lib, `mongo-java-server-${JAVA_MONGO_VERSION}.jar`))) return lib;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.bench</groupId><artifactId>java-mongo</artifactId><version>0</version>
  <dependencies>
    <dependency><groupId>de.bwaldvogel</groupId><artifactId>mongo-java-server</artifactId><version>${JAVA_MONGO_VERSION}</version></dependency>
  </dependencies>
</project>
`,
  );
  log(`fetching mongo-java-server ${JAVA_MONGO_VERSION} and its dependencies with Maven (first run only)…`);
  const result = spawnSync('mvn', ['-q', '-B', '-f', join(dir, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`], {
    encoding: 'utf8',
  });
  if (result.error) throw new Error(`--mongo=java needs Maven (mvn) to fetch the jars: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`fetching mongo-java-server failed:\n${result.stdout}${result.stderr}`);
  return lib;
}

export async function startJavaMongo(log: (line: string) => void): Promise<JavaMongo> {
  const lib = ensureJars(log);
  const port = await freePort();
  const launcher = join(projectRoot(), 'bench', 'java-mongo', 'Launch.java');
  const server = await startChild('java', ['-cp', join(lib, '*'), launcher, String(port)], {
    ready: /^READY /,
    timeoutMs: 60_000,
    label: 'mongo-java-server',
    missingHint: 'Install a Java 17 runtime.',
  });
  // Never leave the JVM behind if the orchestrator exits without stopping it.
  const kill = () => server.child.kill('SIGKILL');
  process.once('exit', kill);
  return {
    uri: server.readyLine.replace(/^READY\s+/, '').trim(),
    label: `mongo-java-server ${JAVA_MONGO_VERSION} (in-memory)`,
    stop: async () => {
      process.off('exit', kill);
      await server.stop();
    },
  };
}
