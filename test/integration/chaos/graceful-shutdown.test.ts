import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEspSimulators } from '../../support/esp-sims.js';
import {
  AppProcess,
  consentQueues,
  convergenceReport,
  figures,
  generateEvents,
  type Stack,
  sendEvents,
  startStack,
  waitForQuiescence,
} from '../../support/chaos.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * reliability.md §7 A8 / bullmq-notes.md §1.3: SIGTERM to a worker process while it holds jobs
 * (ESP answers slowed to 300 ms, so pushes are in flight). It must finish them and exit 0 within
 * SHUTDOWN_GRACE_MS; nothing it held is left active for the stalled checker (2 s locks, 1 s
 * checks, run by a second worker started afterwards) to recover.
 */
const GRACE_MS = 8_000;
const EVENTS = 150;
const CONTACTS = 50;

describe('chaos: graceful shutdown under load', () => {
  let stack: Stack;
  const listeners: QueueEvents[] = [];
  let redis: Redis | undefined;
  beforeAll(async () => {
    stack = await startStack({
      workers: 1,
      scheduler: false,
      startSims: () => startEspSimulators(['ometria', 'dynamic-yield']),
      extra: {
        SHUTDOWN_GRACE_MS: String(GRACE_MS),
        WORKER_LOCK_DURATION_MS: '2000',
        WORKER_STALLED_INTERVAL_MS: '1000',
        APPLY_CONCURRENCY: '10',
      },
    });
  });
  afterAll(async () => {
    await Promise.all(listeners.map((l) => l.close()));
    redis?.disconnect();
    await stack?.stop();
  });

  it('in-flight jobs finish within the grace period, exit code 0, no stalled job afterwards', { timeout: 90_000 }, async () => {
    const { ctx } = stack;
    const stalled: string[] = [];
    redis = new Redis(stack.env['REDIS_URL']!, { maxRetriesPerRequest: null });
    for (const name of consentQueues(ctx)) {
      const events = new QueueEvents(name, { connection: redis.duplicate(), prefix: stack.env['QUEUE_PREFIX']! });
      events.on('stalled', ({ jobId }) => stalled.push(`${name} ${jobId}`));
      await events.waitUntilReady();
      listeners.push(events);
    }
    for (const esp of ctx.esps) stack.sims.sims[esp]!.setFaults({ latencyMs: 300 });

    const generated = generateEvents({ prefix: 'g', events: EVENTS, contacts: CONTACTS, seed: 20261207 });
    const load = await sendEvents(stack.url, generated.map((g) => g.event), { batch: 50, inFlight: 3 });

    // SIGTERM once the worker holds both apply and push jobs.
    const inFlight = await waitFor(
      async () => {
        const active = await Promise.all(consentQueues(ctx).map((q) => ctx.runtime.queue(q).getActive()));
        const pushes = active.slice(1).flat().length;
        return active[0]!.length > 0 && pushes > 0 ? active.flat() : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'apply and push jobs in flight' },
    );
    const [worker] = stack.workers as [AppProcess];
    const exit = await worker.stop('SIGTERM');
    const states = await Promise.all(inFlight.map(async (job) => `${job.queueName} ${job.id} ${await job.getState()}`));
    const leftActive = await Promise.all(consentQueues(ctx).map((q) => ctx.runtime.queue(q).getActiveCount()));

    // A second worker finishes the rest; its stalled checker would recover anything left behind.
    const second = new AppProcess('worker', stack.env);
    stack.workers.push(second);
    await second.start();
    for (const esp of ctx.esps) stack.sims.sims[esp]!.setFaults({ latencyMs: 0 });
    await waitForQuiescence(ctx, { timeoutMs: 60_000 });
    const report = await convergenceReport(stack, generated, load.acked);
    const log = worker.output();
    figures('graceful-shutdown', {
      events: EVENTS,
      inFlightAtSigterm: inFlight.length,
      exitCode: exit.code,
      exitSignal: exit.signal,
      shutdownMs: exit.ms,
      graceMs: GRACE_MS,
      leftActive: leftActive.reduce((a, b) => a + b, 0),
      stalled: stalled.length,
      lost: report.lost.length,
    });

    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(GRACE_MS);
    expect(log).toContain('"msg":"worker stopped"');
    expect(log).not.toContain('did not drain within the grace period');
    // every job in flight at SIGTERM finished in that worker (none failed, none left active)
    expect(states.filter((s) => !s.endsWith(' completed'))).toEqual([]);
    expect(leftActive.every((n) => n === 0)).toBe(true);
    expect(stalled).toEqual([]);
    expect(report.lost).toEqual([]);
    expect(report.audits).toBe(EVENTS);
    expect(report.wrongState).toEqual([]);
    expect(report.esp.mismatches).toEqual([]);
    expect(report.failedUnexplained).toEqual([]);
  });
});
