import { type LocalRedisCluster, startLocalRedisCluster } from '../../src/dev/redis-cluster.js';

/**
 * The Redis topologies the core flows run on (`describe.each(REDIS_TOPOLOGIES)`): the shared
 * single Redis of the global setup, and a 3-master Redis Cluster on loopback that a test file
 * starts lazily (vitest isolates files, so each file that asks gets its own; about 2 s) and
 * stops with `stopRedisCluster` in its afterAll.
 */
export const REDIS_TOPOLOGIES = ['single', 'cluster'] as const;
export type RedisTopology = (typeof REDIS_TOPOLOGIES)[number];

let cluster: Promise<LocalRedisCluster> | undefined;

/** Settings that put a test context on `topology` (none for the single Redis of isolatedEnv). */
export async function redisTopologyEnv(topology: RedisTopology): Promise<Record<string, string>> {
  if (topology === 'single') return {};
  cluster ??= startLocalRedisCluster();
  return { REDIS_CLUSTER_NODES: (await cluster).nodesSetting };
}

export async function stopRedisCluster(): Promise<void> {
  const started = cluster;
  cluster = undefined;
  await (await started?.catch(() => undefined))?.stop();
}
