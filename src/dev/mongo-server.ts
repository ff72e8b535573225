import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startChild } from './child.js';

export type MongoKind = 'external' | 'mongodb-memory-server' | 'ferretdb';

export interface LocalMongo {
  kind: MongoKind;
  /** Server URI without a database name; callers append their own database. */
  uri: string;
  stop(): Promise<void>;
}

type Env = Record<string, string | undefined>;

export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'consent-sync') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('could not find the consent-sync project root');
    dir = parent;
  }
}

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
 * Picks the MongoDB-protocol server as shared/docs/mongo-compat.md §1 orders it:
 * MONGODB_URI, then mongodb-memory-server when a mongod can be had quickly, then the
 * embedded FerretDB test server built from test/support/ferretdb-runner.
 */
export async function startLocalMongo(env: Env, log: (msg: string) => void = () => {}): Promise<LocalMongo> {
  if (env['MONGODB_URI']) return { kind: 'external', uri: serverUri(env['MONGODB_URI']), stop: async () => {} };
  if (env['CONSENT_SYNC_TEST_MONGO'] !== 'ferretdb' && (await canGetMongod(env))) {
    try {
      return await startMemoryServer(env);
    } catch (err) {
      log(`mongodb-memory-server could not start (${(err as Error).message}); using the embedded FerretDB server`);
    }
  }
  return startFerretDb(log);
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


/** Builds the embedded FerretDB runner once per source change into the ignored .cache folder. */
export function ensureFerretDbRunner(log: (msg: string) => void = () => {}): string {
  const root = projectRoot();
  const sourceDir = join(root, 'test', 'support', 'ferretdb-runner');
  const outDir = join(root, '.cache', 'ferretdb-runner');
  const binary = join(outDir, 'ferretdb-runner');
  const stampFile = join(outDir, 'sources.sha256');
  const hash = createHash('sha256');
  const sources = readdirSync(sourceDir).filter((f) => f.endsWith('.go') || f === 'go.mod' || f === 'go.sum').sort();
  for (const file of sources) hash.update(file).update(readFileSync(join(sourceDir, file)));
  const stamp = hash.digest('hex');
  if (existsSync(binary) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return binary;

  mkdirSync(outDir, { recursive: true });
  log('building the embedded FerretDB test server (first run only; takes a minute or two)…');
  const result = spawnSync('go', ['build', '-trimpath', '-o', binary, '.'], {
    cwd: sourceDir,
    env: { ...process.env, CGO_ENABLED: '0' },
    encoding: 'utf8',
  });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      'No MongoDB available: MONGODB_URI is unset, no mongod can be downloaded, and Go (1.24+) is not on PATH to build the embedded FerretDB test server. Install Go, set MONGOMS_SYSTEM_BINARY to a mongod, or set MONGODB_URI.',
    );
  }
  if (result.status !== 0) throw new Error(`building the FerretDB test server failed:\n${result.stderr}`);
  writeFileSync(stampFile, stamp);
  return binary;
}

async function startFerretDb(log: (msg: string) => void): Promise<LocalMongo> {
  const binary = ensureFerretDbRunner(log);
  // On tmpfs SQLite's fsync per commit costs nothing; test data need not survive a reboot.
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dataDir = await mkdtemp(join(base, 'consent-sync-ferretdb-'));
  const child = await startChild(binary, ['-listen-addr', '127.0.0.1:0', '-sqlite-url', `file:${dataDir}/`], {
    ready: /^READY /,
    timeoutMs: 20_000,
    label: 'FerretDB test server',
    missingHint: 'Rebuild it by deleting .cache/ferretdb-runner.',
  });
  const uri = child.readyLine.replace(/^READY\s+/, '').trim();
  return {
    kind: 'ferretdb',
    uri: serverUri(uri),
    stop: async () => {
      await child.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
