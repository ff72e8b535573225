import { existsSync } from 'node:fs';
import { startJavaMongo } from './java-mongo.js';

export { projectRoot } from './project-root.js';

export type MongoKind = 'external' | 'mongodb-memory-server' | 'mongo-java-server';

export interface LocalMongo {
  kind: MongoKind;
  /** Server URI without a database name; callers append their own database. */
  uri: string;
  stop(): Promise<void>;
}

type Env = Record<string, string | undefined>;

/** mongodb://host:port/db?x → mongodb://host:port/ (keeps credentials and options). */
export function serverUri(uri: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)\/?([^?]*)(\?.*)?$/.exec(uri);
  if (!match) return uri;
  return `${match[1]}/${match[3] ?? ''}`;
}

export function withDatabase(uri: string, database: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)\/?[^?]*(\?.*)?$/.exec(uri);
  if (!match) throw new Error(`not a MongoDB URI: ${uri}`);
  return `${match[1]}/${database}${match[2] ?? ''}`;
}

/**
 * Picks the MongoDB-protocol server as shared/docs/mongo-compat.md §1 orders it: MONGODB_URI,
 * then mongodb-memory-server when a mongod can be had quickly, then mongo-java-server
 * (src/dev/java-mongo.ts). CONSENT_SYNC_TEST_MONGO=memory or =java forces one of the last two.
 */
export async function startLocalMongo(
  env: Env,
  log: (msg: string) => void = () => {},
  opts: { ownProcessGroup?: boolean } = {},
): Promise<LocalMongo> {
  if (env['MONGODB_URI']) return { kind: 'external', uri: serverUri(env['MONGODB_URI']), stop: async () => {} };
  if (env['CONSENT_SYNC_TEST_MONGO'] !== 'java' && (await canGetMongod(env))) {
    try {
      return await startMemoryServer(env);
    } catch (err) {
      log(`mongodb-memory-server could not start (${(err as Error).message}); using mongo-java-server`);
    }
  }
  const java = await startJavaMongo({ log, ownProcessGroup: opts.ownProcessGroup ?? false });
  return { kind: 'mongo-java-server', uri: java.uri, stop: java.stop };
}

async function canGetMongod(env: Env): Promise<boolean> {
  if (env['MONGOMS_SYSTEM_BINARY']) return existsSync(env['MONGOMS_SYSTEM_BINARY']);
  if (env['CONSENT_SYNC_TEST_MONGO'] === 'memory') return true;
  // No long download retries: a closed network answers (or fails) within two seconds.
  try {
    const res = await fetch(env['MONGOMS_DOWNLOAD_MIRROR'] ?? 'https://fastdl.mongodb.org/', {
      method: 'HEAD',
      signal: AbortSignal.timeout(2_000),
    });
    return res.status < 500;
  } catch {
    return false;
  }
}

async function startMemoryServer(env: Env): Promise<LocalMongo> {
  const { MongoMemoryServer } = await import('mongodb-memory-server');
  const server = await MongoMemoryServer.create(
    env['MONGOMS_SYSTEM_BINARY'] ? { binary: { systemBinary: env['MONGOMS_SYSTEM_BINARY'] } } : {},
  );
  return { kind: 'mongodb-memory-server', uri: serverUri(server.getUri()), stop: async () => void (await server.stop()) };
}

