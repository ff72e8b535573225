import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireConsentEventInput } from '../../../src/contracts/consent-event.js';
import type { BuiltInEspName } from '../../../src/esp/registry.js';
import { espQueueNames, QUEUE_APPLY } from '../../../src/queues/names.js';
import { startEspSimulators } from '../../support/esp-sims.js';
import {
  chaosContact,
  figures,
  simHolds,
  type Stack,
  sendEvents,
  simRecipients,
  startStack,
} from '../../support/chaos.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * Issue 16 item 3: Redis comes back without its data, with no process restarted. Everything
 * Redis held is gone then: the job schedulers (sweepers included), apply jobs waiting in a
 * (paused) queue, push jobs retrying against a failing ESP. MongoDB still has the events
 * (pending) and the outbox entries; the scheduler must notice its schedules are gone and
 * restore them, and the sweepers must re-enqueue what Redis forgot. Every opt-out acknowledged
 * must reach every simulator within two sweep intervals of Redis being back.
 *
 * Two ways to lose Redis, one after the other on the same deployment: a restart empty (SIGKILL,
 * data files deleted, started again on the same port: the processes see a reconnect), and a
 * FLUSHALL while workers run (no reconnect: only the periodic check can notice).
 */
const SWEEP_INTERVAL_MS = 3_000;
const ESPS: readonly BuiltInEspName[] = ['ometria', 'crossengage'];
const PER_GROUP = 8;

function optOuts(prefix: string, from: number, count: number): WireConsentEventInput[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return {
      eventId: `${prefix}-e${i}`,
      contact: chaosContact(prefix, i),
      kind: 'marketing',
      channel: 'email',
      value: 'opt_out',
      source: 'unsubscribe_link',
      moment: '2026-11-20T10:00:00Z',
    } as WireConsentEventInput;
  });
}

/** The opt-outs not yet opted_out at every simulator. */
async function undelivered(stack: Stack, events: readonly WireConsentEventInput[]): Promise<string[]> {
  const missing: string[] = [];
  for (const esp of ESPS) {
    const recipients = await simRecipients(stack.sims, esp);
    for (const e of events) {
      if (simHolds(esp, recipients, e.contact, 'email') !== 'opted_out') missing.push(`${esp} ${e.eventId}`);
    }
  }
  return missing;
}

const failOmetria = (stack: Stack) =>
  stack.sims.sims.ometria.setFaults({ rules: [{ path: '*', steps: Array.from({ length: 10_000 }, () => ({ status: 503 })) }] });

/**
 * Puts opt-outs where only Redis has them: `failing` are applied but their Ometria pushes keep
 * failing (push jobs retrying in Redis); `paused` are stored, their apply jobs waiting in the
 * paused apply queue.
 */
async function strandInRedis(stack: Stack, failing: WireConsentEventInput[], paused: WireConsentEventInput[]) {
  failOmetria(stack);
  expect((await sendEvents(stack.url, failing, { batch: PER_GROUP })).acked.size).toBe(failing.length);
  await waitFor(async () => (await stack.ctx.models.events.countDocuments({ _id: { $in: failing.map((e) => e.eventId) }, status: 'done' })) === failing.length, {
    what: 'the failing group applied',
  });
  // Either of Ometria's queues: a person's opt-out (lane 1) has its own.
  const retrying = async () => {
    const counts = await Promise.all(espQueueNames('ometria').map((name) => stack.ctx.runtime.queue(name).getJobCountByTypes('wait', 'active', 'delayed', 'prioritized')));
    return counts.reduce((a, b) => a + b, 0);
  };
  await waitFor(async () => (await retrying()) > 0, { what: 'Ometria push jobs retrying in Redis' });
  await stack.ctx.runtime.queue(QUEUE_APPLY).pause();
  expect((await sendEvents(stack.url, paused, { batch: PER_GROUP })).acked.size).toBe(paused.length);
  expect(await stack.ctx.runtime.queue(QUEUE_APPLY).getJobCountByTypes('wait')).toBeGreaterThan(0);
  expect(await stack.ctx.models.events.countDocuments({ _id: { $in: paused.map((e) => e.eventId) }, status: 'pending' })).toBe(paused.length);
}

/** Milliseconds from `since` until every opt-out is applied in MongoDB, and until it is opted_out at every simulator. */
async function timeToEveryEsp(stack: Stack, events: readonly WireConsentEventInput[], since: number): Promise<{ applied: number; delivered: number }> {
  let last: string[] = [];
  let applied: number | undefined;
  const ids = events.map((e) => e.eventId);
  await waitFor(
    async () => {
      if (applied === undefined && (await stack.ctx.models.events.countDocuments({ _id: { $in: ids }, status: 'done' })) === ids.length) applied = Date.now() - since;
      last = await undelivered(stack, events);
      return last.length === 0;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: 'every opt-out at every ESP' },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; still missing: ${last.slice(0, 10).join(', ')}`);
  });
  return { applied: applied ?? Date.now() - since, delivered: Date.now() - since };
}

const restoredLines = (stack: Stack) => (stack.scheduler!.output().match(/schedule was missing from Redis/g) ?? []).length;

describe('chaos: Redis comes back empty (restart without data, FLUSHALL)', () => {
  let stack: Stack;
  let pids: (number | undefined)[];
  beforeAll(async () => {
    const contacts = 6 * PER_GROUP;
    stack = await startStack({
      ownRedis: true,
      workers: 1,
      startSims: () => startEspSimulators(ESPS),
      crossEngageUsers: Array.from({ length: contacts }, (_, i) => chaosContact('z', i).externalId),
      extra: { SWEEP_DELAY_MS: '1000', SWEEP_INTERVAL_MS: String(SWEEP_INTERVAL_MS), SCHEDULE_CHECK_INTERVAL_MS: '1000' },
    });
    pids = [stack.web, stack.scheduler!, ...stack.workers].map((p) => p.pid);
  });
  afterAll(async () => stack?.stop());

  it('restart empty: schedules restored on reconnect, every opt-out at every ESP within two sweep intervals', { timeout: 120_000 }, async () => {
    const failing = optOuts('z', 0, PER_GROUP);
    const paused = optOuts('z', PER_GROUP, PER_GROUP);
    const whileDown = optOuts('z', 2 * PER_GROUP, PER_GROUP);
    await strandInRedis(stack, failing, paused);

    await stack.redis!.kill();
    // accepted while Redis is down: stored in MongoDB, never enqueued
    expect((await sendEvents(stack.url, whileDown, { batch: PER_GROUP })).acked.size).toBe(PER_GROUP);
    stack.sims.sims.ometria.setFaults({ rules: [] });
    await stack.redis!.restartEmpty();
    const up = Date.now();
    expect(await stack.ctx.runtime.queue(QUEUE_APPLY).getJobSchedulersCount().catch(() => 0)).toBe(0);

    const all = [...failing, ...paused, ...whileDown];
    const { applied, delivered: ms } = await timeToEveryEsp(stack, all, up);
    const restored = restoredLines(stack);
    figures('redis-empty restart', { optOuts: all.length, esps: ESPS.length, secondsToApplied: (applied / 1000).toFixed(1), secondsToEveryEsp: (ms / 1000).toFixed(1), sweepIntervalSeconds: SWEEP_INTERVAL_MS / 1000, restoredLogLines: restored });
    expect(restored).toBeGreaterThanOrEqual(2); // sweep-pending-events and sweep-outbox at least
    expect(ms).toBeLessThan(2 * SWEEP_INTERVAL_MS);
    expect(await stack.ctx.models.events.countDocuments({ status: 'pending' })).toBe(0);
  });

  it('FLUSHALL while workers run: the periodic check restores the schedules, every opt-out at every ESP within two sweep intervals', { timeout: 120_000 }, async () => {
    const failing = optOuts('z', 3 * PER_GROUP, PER_GROUP);
    const paused = optOuts('z', 4 * PER_GROUP, PER_GROUP);
    await strandInRedis(stack, failing, paused);
    const before = restoredLines(stack);

    await stack.ctx.runtime.producer.flushall();
    stack.sims.sims.ometria.setFaults({ rules: [] });
    const flushed = Date.now();

    const all = [...failing, ...paused];
    const { applied, delivered: ms } = await timeToEveryEsp(stack, all, flushed);
    const restored = restoredLines(stack) - before;
    figures('redis-empty flushall', { optOuts: all.length, esps: ESPS.length, secondsToApplied: (applied / 1000).toFixed(1), secondsToEveryEsp: (ms / 1000).toFixed(1), sweepIntervalSeconds: SWEEP_INTERVAL_MS / 1000, restoredLogLines: restored });
    expect(restored).toBeGreaterThanOrEqual(2);
    expect(ms).toBeLessThan(2 * SWEEP_INTERVAL_MS);
    // no process was restarted
    expect([stack.web, stack.scheduler!, ...stack.workers].map((p) => p.pid)).toEqual(pids);
    expect([stack.web, stack.scheduler!, ...stack.workers].every((p) => p.running && p.starts === 1)).toBe(true);
  });
});
