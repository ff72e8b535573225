import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_APPLY } from '../../../src/queues/names.js';
import { startEspSimulators } from '../../support/esp-sims.js';
import { AppProcess, type Stack, sendEvents, startStack } from '../../support/chaos.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * PENDING (fails until src/ is fixed; rename to .test.ts then). The deterministic form of what
 * worker-sigkill.pending.ts finds under load:
 *
 * A worker that dies twice while it holds an apply job makes BullMQ fail the job with "job
 * stalled more than allowable limit" (maxStalledCount 1, not configurable), although 11 of its
 * 12 attempts are left. Its event stays `pending` for good: the sweeper re-enqueues it with the
 * same jobId `apply-<eventId>` (src/lib/context.ts enqueueApply), and BullMQ ignores an add
 * whose jobId exists in any state; failed apply jobs are kept 30 days (removeOnFail in
 * src/queues/runtime.ts DEFAULT_JOB_OPTIONS). Bull Board is read-only for consent-apply, so no
 * operator can retry it either.
 *
 * To hold the job in a worker long enough to kill it, the test holds the contact's lease in
 * Redis (the key ContactLocks uses), so the job waits for it as it would behind a slow writer.
 */
describe('PENDING: an apply job failed by stalls is applied after the next sweep', () => {
  let stack: Stack;
  let redis: Redis | undefined;
  beforeAll(async () => {
    stack = await startStack({
      workers: 1,
      scheduler: false,
      startSims: () => startEspSimulators([]),
      extra: { WORKER_LOCK_DURATION_MS: '1000', WORKER_STALLED_INTERVAL_MS: '500', WORKER_MAX_STALLED_COUNT: '1', SWEEP_DELAY_MS: '1000' },
    });
  });
  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  it('two worker crashes while holding the job → failed set → sweep → applied', { timeout: 90_000 }, async () => {
    const { ctx } = stack;
    const apply = ctx.runtime.queue(QUEUE_APPLY);
    const contact = { externalId: 'stall-user' };
    await sendEvents(stack.url, [{ eventId: 'stall-1', contact, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'form', moment: '2026-11-01T00:00:00Z' }]);
    const first = await waitFor(async () => {
      const e = await ctx.models.events.findById('stall-1').lean();
      return e?.status === 'done' ? e : undefined;
    });
    redis = new Redis(stack.env['REDIS_URL']!);
    const lease = `${stack.env['QUEUE_PREFIX']}:lock:contact:${first.contactId}`;
    await redis.set(lease, 'held-by-the-test', 'PX', 120_000);

    await sendEvents(stack.url, [{ eventId: 'stall-2', contact, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'list_unsubscribe', moment: '2026-11-02T00:00:00Z' }]);
    /** Waits until `worker` has taken the job (its n-th start) and holds it, then SIGKILLs it. */
    const killWhileHolding = async (worker: AppProcess, start: number) => {
      await waitFor(
        async () => {
          const job = await apply.getJob('apply-stall-2');
          return job?.attemptsStarted === start && (await job.getState()) === 'active';
        },
        { what: `start ${start} of the job` },
      );
      await worker.kill();
    };
    await killWhileHolding(stack.workers[0]!, 1);
    const second = new AppProcess('worker', stack.env);
    stack.workers.push(second);
    await second.start();
    await killWhileHolding(second, 2);
    const third = new AppProcess('worker', stack.env);
    stack.workers.push(third);
    await third.start();
    const failed = await waitFor(
      async () => {
        const job = await apply.getJob('apply-stall-2');
        // Read again once failed: the copy read before the state may predate the failure.
        return (await job?.getState()) === 'failed' ? apply.getJob('apply-stall-2') : undefined;
      },
      { what: 'the job to fail by the stall limit' },
    );
    expect(failed.failedReason).toMatch(/stalled more than allowable limit/);
    expect(failed.attemptsMade).toBeLessThan(12);

    // The lease is gone (its holder recovered); the sweeper runs as the scheduler runs it.
    await redis.del(lease);
    const sweep = await ctx.services.sweepPendingEvents();
    expect(sweep.requeued).toBe(1);
    await waitFor(async () => (await ctx.models.events.findById('stall-2').lean())?.status === 'done', {
      timeoutMs: 20_000,
      what: 'the event to be applied after the sweep',
    });
    expect((await ctx.models.audit.findById('stall-2').lean())?.outcome).toBe('applied');
  });
});
