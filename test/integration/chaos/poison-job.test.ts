import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_APPLY } from '../../../src/queues/names.js';
import { startEspSimulators } from '../../support/esp-sims.js';
import { AppProcess, figures, type Stack, sendEvents, startStack } from '../../support/chaos.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * reliability.md §7 A9: an apply job carrying an event that was corrupted in MongoDB (an identity
 * that is not a string: processing throws) applies the healthy events it carries, then ends in the
 * failed set, visible in the queue metrics, while the poison event stays pending. A sweep sees it
 * and gives it a job of its own, under the event's own job id, so further sweeps add nothing.
 *
 * The apply job has 12 attempts with exponential backoff from 500 ms (jobs/apply-consent-events.job.ts,
 * not configurable): about 17 minutes before it fails. The test fast-forwards each backoff by
 * promoting the delayed job; attempts are used up exactly as they would be.
 */
const APPLY_ATTEMPTS = 12;

describe('chaos: poison job', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      workers: 0,
      scheduler: false,
      startSims: () => startEspSimulators([]),
      extra: { SWEEP_DELAY_MS: '1000' },
    });
  });
  afterAll(async () => stack?.stop());

  it('ends failed and visible; the stored event stays pending; a sweep does not lose it', { timeout: 90_000 }, async () => {
    const { ctx } = stack;
    const apply = ctx.runtime.queue(QUEUE_APPLY);
    const load = await sendEvents(stack.url, [
      { eventId: 'poison-1', contact: { externalId: 'poison-user' }, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'api', moment: '2026-11-01T00:00:00Z' },
      { eventId: 'healthy-1', contact: { externalId: 'healthy-user' }, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'api', moment: '2026-11-01T00:00:00Z' },
    ]);
    expect(load.acked.size).toBe(2);
    // Corrupt the stored event behind the API's back: the identity is no longer a string.
    await ctx.mongo.collection('consent_events').updateOne({ _id: 'poison-1' as never }, { $set: { 'contact.externalId': 42 } });

    const worker = new AppProcess('worker', stack.env);
    stack.workers.push(worker);
    await worker.start();
    let promotions = 0;
    const started = Date.now();
    // Both events came in one request: one apply job carries them.
    const carrying = async () => (await apply.getJobs(['waiting', 'active', 'delayed', 'failed', 'completed'])).find((j) => (j.data as { eventIds: string[] }).eventIds.includes('poison-1'));
    const failed = await waitFor(
      async () => {
        const job = await carrying();
        const state = await job?.getState();
        if (job && state === 'delayed') {
          await job.promote().catch(() => {}); // fast-forward the backoff
          promotions++;
        }
        return state === 'failed' ? job : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: 'the poison job to end in the failed set' },
    );
    expect((failed.data as { eventIds: string[] }).eventIds).toEqual(['poison-1', 'healthy-1']);
    const failedAfter = Date.now() - started;
    await waitFor(async () => (await ctx.models.events.findById('healthy-1').lean())?.status === 'done', { what: 'the healthy event applied' });

    const stored = await ctx.models.events.findById('poison-1').lean();
    // the alert metric: the failed gauge of the apply queue (cached for 2 s by the web process)
    const failedGauge = await waitFor(
      async () => {
        const metrics = await (await fetch(`${stack.url}/metrics`)).text();
        const value = new RegExp(`consent_sync_queue_jobs\\{queue="${QUEUE_APPLY}",state="failed"\\} (\\d+)`).exec(metrics)?.[1];
        return Number(value) >= 1 ? value : undefined;
      },
      { what: 'consent_sync_queue_jobs{state="failed"} ≥ 1' },
    );

    // A sweep sees the stored event (it is pending past SWEEP_DELAY_MS) and loses nothing: the
    // event stays pending, the failed job stays visible, and the event gets one job of its own
    // (its id is the event's), which a second sweep does not duplicate.
    await waitFor(async () => Date.now() - stored!.receivedAt.getTime() > 1_000);
    const sweep = await ctx.services.sweepPendingEvents();
    await ctx.services.sweepPendingEvents();
    const afterSweep = await ctx.models.events.findById('poison-1').lean();
    const jobAfterSweep = await apply.getJob('apply-poison-1');
    const ownJobs = (await apply.getJobs(['waiting', 'active', 'delayed', 'failed', 'completed'])).filter((j) => j.id === 'apply-poison-1');
    figures('poison-job', {
      attemptsMade: failed.attemptsMade,
      promotions,
      secondsToFailed: (failedAfter / 1000).toFixed(1),
      failedReason: failed.failedReason,
      failedGauge,
      sweptRequeued: sweep.requeued,
      eventStatusAfterSweep: afterSweep?.status,
      jobStateAfterSweep: await jobAfterSweep?.getState(),
    });

    expect(failed.attemptsMade).toBe(APPLY_ATTEMPTS);
    expect(failed.failedReason).toMatch(/externalId/);
    expect(stored?.status).toBe('pending');
    expect(await ctx.models.audit.findById('poison-1').lean()).toBeNull();
    expect(Number(failedGauge)).toBeGreaterThanOrEqual(1);
    expect(sweep.requeued).toBeGreaterThanOrEqual(1);
    expect(afterSweep?.status).toBe('pending');
    expect(jobAfterSweep).toBeDefined();
    expect(ownJobs).toHaveLength(1);
    expect((await apply.getFailed()).map((j) => j.id)).toContain(failed.id);
    // the worker kept going: the healthy event was applied, and the worker is still up
    expect(await ctx.models.audit.findById('healthy-1').lean()).not.toBeNull();
    expect(worker.running).toBe(true);
  });
});
