import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEspSimulators } from '../../support/esp-sims.js';
import {
  cadence,
  chaosContact,
  convergenceReport,
  figures,
  generateEvents,
  type Stack,
  sendEvents,
  startStack,
  waitForQuiescence,
} from '../../support/chaos.js';
import { waitFor } from '../../support/wait-for.js';
import { QUEUE_APPLY } from '../../../src/queues/names.js';
import { REDIS_TOPOLOGIES } from '../../support/redis-topology.js';

/**
 * reliability.md §7 A4: the Redis child (AOF on, everysec) is SIGKILLed while events arrive and
 * restarted ~3 s later on the same port and data directory. The API keeps acknowledging (the
 * events are stored in MongoDB first); the scheduler's sweeper re-enqueues what never reached
 * Redis. Two ESPs (Ometria, CrossEngage) keep the MongoDB load inside the time budget.
 * On a 3-master Redis Cluster (AOF on) the master that holds the apply queue's slot is the one
 * killed and restarted (same port, its nodes.conf and AOF: it rejoins as that slot's master);
 * the other masters, and the ESP queues on them, stay up.
 */
const EVENTS = 240;
const CONTACTS = 40;
const OUTAGE_MS = 3_000;

/** The index of the cluster master that serves `key`'s slot, asked of the cluster itself. */
async function masterServing(stack: Stack, key: string): Promise<number> {
  const client = stack.ctx.runtime.producer as Cluster;
  const slot = (await client.cluster('KEYSLOT', key)) as number;
  const ranges = await client.cluster('SLOTS');
  const port = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
  const index = stack.redisCluster!.nodes.findIndex((n) => n.port === port);
  if (index < 0) throw new Error(`no master serves slot ${slot} of ${key}`);
  return index;
}

describe.each(REDIS_TOPOLOGIES)('chaos: Redis SIGKILL and restart mid-run (AOF on, %s Redis)', (topology) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      ownRedis: true,
      redisCluster: topology === 'cluster',
      workers: 2,
      startSims: () => startEspSimulators(['ometria', 'crossengage']),
      crossEngageUsers: Array.from({ length: CONTACTS }, (_, i) => chaosContact('r', i).externalId),
      extra: {
        SWEEP_DELAY_MS: '3000',
        SWEEP_INTERVAL_MS: '2000',
        // On the cluster a job whose completion was written in the killed master's last second
        // (AOF everysec) or failed with CLUSTERDOWN comes back active; it is recovered once its
        // lock expires and a stalled check runs. Short locks keep that inside the 40 s budget.
        ...(topology === 'cluster' ? { WORKER_LOCK_DURATION_MS: '5000', WORKER_STALLED_INTERVAL_MS: '2000' } : {}),
      },
    });
  });
  afterAll(async () => stack?.stop());

  it('every acknowledged event is applied; web and workers resume without a restart', { timeout: 120_000 }, async () => {
    let redis: { kill(): Promise<void>; restart(): Promise<void> } = stack.redis!;
    if (topology === 'cluster') {
      const cluster = stack.redisCluster!;
      const victim = await masterServing(stack, `${stack.ctx.runtime.prefixOf(QUEUE_APPLY)}:${QUEUE_APPLY}:id`);
      redis = { kill: () => cluster.kill(victim), restart: () => cluster.restart(victim) };
    }
    const generated = generateEvents({ prefix: 'r', events: EVENTS, contacts: CONTACTS, seed: 20261202 });
    const pids = [stack.web, ...stack.workers].map((p) => p.pid);
    const events = generated.map((g) => g.event);
    const apply = stack.ctx.runtime.queue(QUEUE_APPLY);
    const started = Date.now();

    // A: 60 events with Redis up.
    const a = await sendEvents(stack.url, events.slice(0, 60), { batch: 20, inFlight: 1 });
    // B: SIGKILL Redis; 120 events arrive while it is down (restarted OUTAGE_MS later).
    await redis.kill();
    const down = Date.now();
    let up: number | undefined;
    const outage = cadence(OUTAGE_MS).then(async () => {
      await redis.restart();
      up = Date.now();
    });
    const ackedWhileDown = new Set<string>();
    const b = await sendEvents(stack.url, events.slice(60, 180), {
      batch: 20,
      inFlight: 1,
      onBatch: (done) => {
        if (up !== undefined) return;
        for (const e of events.slice(60 + (done - 1) * 20, 60 + done * 20)) ackedWhileDown.add(e.eventId);
      },
    });
    await outage;
    // C: once the web process reaches Redis again, its own enqueue works again: each batch's
    // apply jobs exist right after the 202, before any sweep could have added them.
    await waitFor(async () => (await fetch(`${stack.url}/readyz`)).status === 200, { what: 'web /readyz 200 again', timeoutMs: 30_000 });
    const readyAgain = Date.now();
    await waitFor(async () => (await stack.ctx.runtime.producer.ping()) === 'PONG', { what: 'observer reconnected' });
    const notEnqueued: string[] = [];
    const c = await sendEvents(stack.url, events.slice(180), {
      batch: 20,
      inFlight: 1,
      onBatch: async (done) => {
        // A request's events travel in one apply job: each must be in some job's eventIds.
        const jobs = await apply.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'], 0, -1);
        const enqueued = new Set(jobs.flatMap((j) => (j.data as { eventIds?: string[] }).eventIds ?? []));
        for (const e of events.slice(180 + (done - 1) * 20, 180 + done * 20)) {
          if (!enqueued.has(e.eventId)) notEnqueued.push(e.eventId);
        }
      },
    });
    const acked = new Set([...a.acked, ...b.acked, ...c.acked]);
    const quiet = await waitForQuiescence(stack.ctx, { timeoutMs: topology === 'cluster' ? 40_000 : 90_000 });
    const resumed = Date.now();
    const report = await convergenceReport(stack, generated, acked);
    figures(`redis-kill (${topology})`, {
      events: EVENTS,
      acked: acked.size,
      ackedWhileRedisDown: ackedWhileDown.size,
      statuses: [a, b, c].map((r) => r.statuses),
      outageSeconds: (((up ?? 0) - down) / 1000).toFixed(1),
      webReadySecondsAfterRestart: ((readyAgain - (up ?? readyAgain)) / 1000).toFixed(1),
      secondsToQuiescenceAfterRestart: ((resumed - (up ?? resumed)) / 1000).toFixed(1),
      totalSeconds: ((resumed - started) / 1000).toFixed(1),
      lost: report.lost.length,
      doubleApplied: report.doubleApplied.length,
      wrongState: report.wrongState.length,
      espMismatches: report.esp.mismatches.length,
      failedSets: quiet.failed,
    });

    expect(up).toBeDefined();
    // the API kept acknowledging while Redis was down (stored in MongoDB before the 202)
    expect(ackedWhileDown.size).toBeGreaterThan(0);
    expect(acked.size).toBe(EVENTS);
    expect(notEnqueued).toEqual([]);
    expect(report.lost).toEqual([]);
    expect(report.audits).toBe(EVENTS);
    expect(report.distinctAudits).toBe(EVENTS);
    expect(report.doubleApplied).toEqual([]);
    expect(report.wrongState.slice(0, 5)).toEqual([]);
    expect(report.esp.mismatches.slice(0, 10)).toEqual([]);
    expect(report.failedUnexplained).toEqual([]);
    // resumed by themselves: same processes, never restarted, still running
    expect([stack.web, ...stack.workers].map((p) => p.pid)).toEqual(pids);
    expect([stack.web, ...stack.workers].every((p) => p.running && p.starts === 1)).toBe(true);
  });
});
