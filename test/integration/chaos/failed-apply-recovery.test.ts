import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_APPLY } from '../../../src/queues/names.js';
import { startEspSimulators } from '../../support/esp-sims.js';
import { AppProcess, type Stack, sendEvents, startStack } from '../../support/chaos.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * A worker that dies twice while it holds an apply job makes BullMQ fail the job with "job
 * stalled more than allowable limit", although most of its attempts are left. Its events stay
 * `pending`. The sweeper gives each such event a job of its own under the event's own job id
 * (`apply-<eventId>`), and BullMQ ignores an add whose job id exists in any state: so when that
 * job is the one failed by stalls, the sweeper retries exactly it, and the event is applied.
 *
 * The stalled failure is produced directly: the test takes the swept job as a worker would
 * (BullMQ's manual fetch) and fails it with BullMQ's stall message, as the stalled-job checker
 * does; its original batch job is lost (drained), as after a Redis failover.
 */
describe('an apply job failed by stalls is applied after the next sweep', () => {
  let stack: Stack;
  let redis: Redis | undefined;
  let fetcher: Worker | undefined;
  beforeAll(async () => {
    stack = await startStack({
      workers: 0,
      scheduler: false,
      startSims: () => startEspSimulators([]),
      extra: { SWEEP_DELAY_MS: '1000' },
    });
  });
  afterAll(async () => {
    await fetcher?.close();
    redis?.disconnect();
    await stack?.stop();
  });

  it('failed by stalls → sweep retries that job → applied', { timeout: 90_000 }, async () => {
    const { ctx } = stack;
    const apply = ctx.runtime.queue(QUEUE_APPLY);
    const contact = { externalId: 'stall-user' };
    await sendEvents(stack.url, [{ eventId: 'stall-2', contact, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'list_unsubscribe', moment: '2026-11-02T00:00:00Z' }]);
    await apply.drain(); // the request's batch job is lost; the event stays pending
    expect((await ctx.models.events.findById('stall-2').lean())?.status).toBe('pending');

    await waitFor(async () => Date.now() - (await ctx.models.events.findById('stall-2').lean())!.receivedAt.getTime() > 1_000);
    expect((await ctx.services.sweepPendingEvents()).requeued).toBe(1);
    redis = new Redis(stack.env['REDIS_URL']!, { maxRetriesPerRequest: null });
    fetcher = new Worker(QUEUE_APPLY, null, { connection: redis, prefix: stack.env['QUEUE_PREFIX']! });
    const token = 'the-worker-that-dies';
    const taken = await fetcher.getNextJob(token);
    expect(taken?.id).toBe('apply-stall-2');
    // As the stall limit does: failed at once, whatever attempts are left.
    await taken!.moveToFailed(new UnrecoverableError('job stalled more than allowable limit'), token, false);
    expect(await (await apply.getJob('apply-stall-2'))?.getState()).toBe('failed');

    // Nothing else would ever apply it: another add under the same job id is ignored.
    const worker = new AppProcess('worker', stack.env);
    stack.workers.push(worker);
    await worker.start();
    const sweep = await ctx.services.sweepPendingEvents();
    expect(sweep.requeued).toBe(1);
    await waitFor(async () => (await ctx.models.events.findById('stall-2').lean())?.status === 'done', {
      timeoutMs: 20_000,
      what: 'the event to be applied after the sweep',
    });
    expect((await ctx.models.audit.findById('stall-2').lean())?.outcome).toBe('applied');
  });
});
