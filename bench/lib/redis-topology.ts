import { Redis } from 'ioredis';
import type { LocalRedisCluster } from '../../src/dev/redis-cluster.js';
import { commandStats, type MonitorSample, monitorSample } from './redis-stats.js';

/**
 * The Redis a measured run uses: one server, or every master of a Redis Cluster. Counts that
 * Redis keeps per server (INFO commandstats, the queues' id keys, MONITOR) are read from each
 * server and added up, so a row on the cluster is comparable with a row on one Redis.
 */
export interface BenchRedis {
  kind: 'single' | 'cluster';
  /** Environment that puts a consent-sync process on this Redis. */
  env: Record<string, string>;
  nodes: { url: string; stats: Redis; pid: number | undefined }[];
  close(): void;
}

export function singleRedis(url: string, pid: number | undefined): BenchRedis {
  const stats = new Redis(url);
  return { kind: 'single', env: { REDIS_URL: url }, nodes: [{ url, stats, pid }], close: () => stats.disconnect() };
}

export function clusterRedis(cluster: LocalRedisCluster): BenchRedis {
  const nodes = cluster.nodes.map((n) => {
    const url = `redis://${n.host}:${n.port}`;
    return { url, stats: new Redis(url), pid: n.child.child.pid };
  });
  return {
    kind: 'cluster',
    // REDIS_URL still names one node: credentials and TLS come from it (none here).
    env: { REDIS_URL: nodes[0]!.url, REDIS_CLUSTER_NODES: cluster.nodesSetting },
    nodes,
    close: () => {
      for (const n of nodes) n.stats.disconnect();
    },
  };
}

/** INFO commandstats added up over the servers. */
export async function commandStatsOf(redis: BenchRedis): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const n of redis.nodes) {
    for (const [cmd, calls] of Object.entries(await commandStats(n.stats))) out[cmd] = (out[cmd] ?? 0) + calls;
  }
  return out;
}

/** A MONITOR sample of every server at once, added up. */
export async function monitorSampleOf(redis: BenchRedis, ms: number): Promise<MonitorSample> {
  const samples = await Promise.all(redis.nodes.map((n) => monitorSample(n.url, ms)));
  const merge = (pick: (s: MonitorSample) => Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const s of samples) for (const [cmd, n] of Object.entries(pick(s))) out[cmd] = (out[cmd] ?? 0) + n;
    return out;
  };
  return { seconds: ms / 1000, client: merge((s) => s.client), lua: merge((s) => s.lua) };
}

/**
 * Jobs added per queue under QUEUE_PREFIX `prefix`: BullMQ INCRs `<key prefix>:<queue>:id` on
 * every add. The key prefix is `prefix` on one Redis and `{prefix-<queue>}` on a cluster
 * (src/queues/connection.ts, queuePrefix), where each queue may live on another master.
 */
export async function jobsAddedByQueue(redis: BenchRedis, prefix: string): Promise<Record<string, number>> {
  const pattern = redis.kind === 'cluster' ? `{${prefix}-*}:*:id` : `${prefix}:*:id`;
  const keyPrefixEnd = (key: string) => (redis.kind === 'cluster' ? key.indexOf('}:') + 2 : prefix.length + 1);
  const out: Record<string, number> = {};
  for (const n of redis.nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await n.stats.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const queue = key.slice(keyPrefixEnd(key), -':id'.length);
        out[queue] = (out[queue] ?? 0) + (Number(await n.stats.get(key)) || 0);
      }
    } while (cursor !== '0');
  }
  return out;
}
