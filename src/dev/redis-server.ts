import { freePort, type StartedChild, startChild } from './child.js';

export interface LocalRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  child: StartedChild;
}

export const REDIS_INSTALL_HINT =
  'Install it with `sudo apt-get update && sudo apt-get install -y redis-server` (Debian/Ubuntu), or set REDIS_URL to a running Redis.';

/**
 * Debian's redis-server as a child process on a free loopback port. Persistence is off by
 * default (tests); durability tests pass `appendonly: true` and a data directory.
 */
export async function startLocalRedis(
  opts: { port?: number; appendonly?: boolean; dir?: string; ownProcessGroup?: boolean } = {},
): Promise<LocalRedis> {
  const port = opts.port ?? (await freePort());
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', opts.appendonly ? 'yes' : 'no',
    '--maxmemory-policy', 'noeviction',
    '--protected-mode', 'yes',
  ];
  if (opts.dir) args.push('--dir', opts.dir);
  const child = await startChild('redis-server', args, {
    ready: /Ready to accept connections/,
    timeoutMs: 15_000,
    label: 'redis-server',
    missingHint: REDIS_INSTALL_HINT,
    ownProcessGroup: opts.ownProcessGroup ?? false,
  });
  return { url: `redis://127.0.0.1:${port}`, port, child, stop: () => child.stop() };
}
