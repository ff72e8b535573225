import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.js';
import { problemsOf } from './problems.js';
import { queuePrefix } from '../../../src/queues/connection.js';


describe('Redis Cluster settings', () => {
  it('single Redis unless REDIS_CLUSTER_NODES is set; nodes parsed as host:port', () => {
    expect(loadConfig({}).redis.clusterNodes).toBeUndefined();
    const config = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:6379, redis-b.internal:7001' });
    expect(config.redis.clusterNodes).toEqual([
      { host: '10.0.0.1', port: 6379 },
      { host: 'redis-b.internal', port: 7001 },
    ]);
  });

  it('a malformed node list is refused by name', () => {
    expect(problemsOf({ REDIS_CLUSTER_NODES: '10.0.0.1' })[0]).toMatch(/^REDIS_CLUSTER_NODES: comma-separated host:port/);
    expect(problemsOf({ REDIS_CLUSTER_NODES: '10.0.0.1:6379,,x:1' })[0]).toMatch(/^REDIS_CLUSTER_NODES/);
  });

  it('queue prefixes: unchanged on single Redis, one hash tag per queue on a cluster, a tagged QUEUE_PREFIX kept', () => {
    expect(queuePrefix('consent-sync', 'consent-apply', false)).toBe('consent-sync');
    expect(queuePrefix('consent-sync', 'consent-apply', true)).toBe('{consent-sync-consent-apply}');
    expect(queuePrefix('consent-sync', 'esp-sync-ometria', true)).toBe('{consent-sync-esp-sync-ometria}');
    expect(queuePrefix('{consent}', 'consent-apply', true)).toBe('{consent}');
    expect(queuePrefix('app-{eu}', 'consent-apply', true)).toBe('app-{eu}');
  });
});

describe('MongoDB write concern and schedule check settings', () => {
  it('defaults: majority, journaled, 10 s wtimeout; checks every 30 s', () => {
    const config = loadConfig({});
    expect(config.mongo.eventWriteConcern).toEqual({ w: 'majority', journal: true, wtimeoutMS: 10_000 });
    expect(config.scheduler).toEqual({ checkIntervalMs: 30_000, metricsPort: 0 });
  });

  it('a number of members, no journal, no timeout', () => {
    const config = loadConfig({ MONGO_WRITE_CONCERN: '2', MONGO_WRITE_JOURNAL: 'false', MONGO_WRITE_TIMEOUT_MS: '0' });
    expect(config.mongo.eventWriteConcern).toEqual({ w: 2, journal: false, wtimeoutMS: 0 });
  });

  it('anything else is refused by name', () => {
    expect(problemsOf({ MONGO_WRITE_CONCERN: 'all' })[0]).toMatch(/^MONGO_WRITE_CONCERN/);
    expect(problemsOf({ SCHEDULE_CHECK_INTERVAL_MS: '10' })[0]).toMatch(/^SCHEDULE_CHECK_INTERVAL_MS/);
  });
});
