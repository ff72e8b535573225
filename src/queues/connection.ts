import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

export type RedisRole = 'worker' | 'producer';

/** Either kind of connection; BullMQ, the producer guard and the readiness check take both. */
export type RedisClient = Redis | Cluster;

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/**
 * Where Redis is: one server (`url`), or a Redis Cluster when `clusterNodes` is set (seed nodes;
 * the user, password and TLS of `url` still apply to every node).
 */
export interface RedisTarget {
  readonly url: string;
  readonly clusterNodes?: readonly RedisNode[] | undefined;
}

export function isClusterTarget(target: RedisTarget): boolean {
  return (target.clusterNodes?.length ?? 0) > 0;
}

/**
 * The BullMQ key prefix of one queue. On a single Redis it is QUEUE_PREFIX itself (keys as they
 * always were). On a Redis Cluster every key a BullMQ script touches must hash to one slot, so
 * the prefix carries a hash tag (BullMQ's documented way, patterns/redis-cluster): one per queue,
 * `{QUEUE_PREFIX-queue}`, so the apply queue and each ESP queue land on different masters and
 * spread the load (we use no flows, so no two queues need to share a slot). A QUEUE_PREFIX that
 * already holds a `{…}` tag is the operator's choice and is used as is: every queue in that slot.
 */
export function queuePrefix(base: string, queue: string, cluster: boolean): string {
  if (!cluster || /\{[^}]+\}/.test(base)) return base;
  return `{${base}-${queue}}`;
}

/** The ioredis options every node connection gets: BullMQ's rules per role (see createRedisConnection). */
function nodeOptions(url: string, role: RedisRole): RedisOptions {
  return {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    connectTimeout: 5_000,
    // Back within 2 s of Redis returning: a producer that is still reconnecting while the
    // workers already run makes every job that queues a follow-up fail and back off.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
    ...credentialsOf(url),
  };
}

/** User, password and TLS of a redis:// or rediss:// URL, for cluster nodes. */
function credentialsOf(url: string): RedisOptions {
  const parsed = new URL(url);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * The one place that decides single Redis or Redis Cluster. ioredis settings as BullMQ
 * prescribes: workers retry forever (maxRetriesPerRequest null, which BullMQ reads from a
 * Cluster's `redisOptions`) so a Redis restart never kills them; producers fail fast (no offline
 * queue) so the API never waits on a dead Redis with an event already stored in MongoDB — the
 * sweeper re-enqueues it.
 */
export function createRedisConnection(target: RedisTarget | string, role: RedisRole, extra: RedisOptions = {}): RedisClient {
  const { url, clusterNodes } = typeof target === 'string' ? { url: target, clusterNodes: undefined } : target;
  if (clusterNodes && clusterNodes.length > 0) {
    // retryStrategy and enableOfflineQueue are the Cluster's own options, not its nodes'.
    const { retryStrategy, enableOfflineQueue: _offline, ...redisOptions } = { ...nodeOptions(url, role), ...extra };
    const options: ClusterOptions = {
      redisOptions,
      // The cluster-level twins of the node settings (ioredis applies these to the Cluster object).
      enableOfflineQueue: role === 'worker',
      clusterRetryStrategy: (times) => retryStrategy?.(times) ?? 2_000,
      // No ready check on worker connections (issue #16 item 5). ioredis 5 Cluster.connect() never
      // settles its promise when the ready check fails: on `cluster_state:fail` (a master just
      // restarted, the cluster not yet healed) it calls disconnect(true) and reconnects on its own,
      // but the listener that would reject the first connect() is already gone. BullMQ's blocking
      // connection awaits that connect() when it recovers from an error (RedisConnection.reconnect),
      // so the worker's fetch loop waited for good: jobs and due delayed jobs stayed put while the
      // worker was registered and idle. Without the check the Cluster is ready once it has the
      // slots, and a command sent while the cluster is down gets CLUSTERDOWN and is retried
      // (retryDelayOnClusterDown). Producers keep the check: nothing awaits their connect().
      enableReadyCheck: role !== 'worker',
      // A failover moves slots: retry the command on the new owner instead of failing it.
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 300,
      retryDelayOnTryAgain: 200,
      maxRedirections: 16,
      slotsRefreshTimeout: 2_000,
      lazyConnect: false,
    };
    return new Cluster(clusterNodes.map((n) => ({ host: n.host, port: n.port })), options);
  }
  return new Redis(url, { ...nodeOptions(url, role), lazyConnect: false, ...extra });
}

/** Fails within `timeoutMs` with a message that names Redis, for start-up checks. */
export async function assertRedisReachable(
  target: RedisTarget | string,
  timeoutMs = 5_000,
): Promise<{ maxmemoryPolicy: string; version: string }> {
  const t = typeof target === 'string' ? { url: target } : target;
  const url = isClusterTarget(t) ? `cluster ${t.clusterNodes!.map((n) => `${n.host}:${n.port}`).join(',')}` : t.url;
  const probe = isClusterTarget(t)
    ? new Cluster(
        t.clusterNodes!.map((n) => ({ host: n.host, port: n.port })),
        {
          lazyConnect: true,
          enableOfflineQueue: false,
          clusterRetryStrategy: () => null,
          redisOptions: { ...credentialsOf(t.url), maxRetriesPerRequest: 0, connectTimeout: timeoutMs },
        },
      )
    : new Redis(t.url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: timeoutMs });
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

/** Facts of one node (any node of a cluster: they are configured alike). */
export async function redisFacts(client: RedisClient): Promise<{ maxmemoryPolicy: string; version: string }> {
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
