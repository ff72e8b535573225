import { Redis, type RedisOptions } from 'ioredis';

export type RedisRole = 'worker' | 'producer';

/**
 * ioredis settings as BullMQ prescribes: workers retry forever (maxRetriesPerRequest null) so
 * a Redis restart never kills them; producers fail fast (no offline queue) so the API never
 * waits on a dead Redis with an event already stored in MongoDB — the sweeper re-enqueues it.
 */
export function createRedisConnection(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    connectTimeout: 5_000,
    // Back within 2 s of Redis returning: a producer that is still reconnecting while the
    // workers already run makes every job that queues a follow-up fail and back off.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
    lazyConnect: false,
    ...extra,
  });
}

/** Fails within `timeoutMs` with a message that names Redis, for start-up checks. */
export async function assertRedisReachable(url: string, timeoutMs = 5_000): Promise<{ maxmemoryPolicy: string; version: string }> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: timeoutMs });
  let cause: Error | undefined;
  probe.on('error', (err: Error) => {
    cause ??= err;
  });
  try {
    await probe.connect();
    return await redisFacts(probe);
  } catch (err) {
    throw new Error(`Redis is unreachable at ${maskUrl(url)}: ${(cause ?? (err as Error)).message}`);
  } finally {
    probe.disconnect();
  }
}

export async function redisFacts(client: Redis): Promise<{ maxmemoryPolicy: string; version: string }> {
  const policy = (await client.config('GET', 'maxmemory-policy')) as string[];
  const info = await client.info('server');
  return {
    maxmemoryPolicy: policy[1] ?? 'unknown',
    version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
  };
}

export function maskUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
