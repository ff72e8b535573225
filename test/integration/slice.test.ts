import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heartbeatJob } from '../../jobs/heartbeat.job.js';
import { catalog } from '../../jobs/index.js';
import { heartbeatModel } from '../../src/persistence/heartbeat.model.js';
import { startCatalogWorkers } from '../../src/queues/runtime.js';
import { createTestContext } from '../support/integration.js';
import { waitFor } from '../support/wait-for.js';

describe('the stack end to end: producer → Redis → BullMQ worker → mongoose → MongoDB', () => {
  let ctx: Awaited<ReturnType<typeof createTestContext>>;
  beforeAll(async () => {
    ctx = await createTestContext();
    startCatalogWorkers(ctx.runtime, catalog, ctx.services, ctx.log, {});
  });
  afterAll(async () => ctx?.dispose());

  it('runs a job that writes a document, read back over a separate connection', async () => {
    const job = await ctx.producer.add(heartbeatJob as never, { source: 'slice-test' });
    const result = await waitFor(async () => (await ctx.runtime.queue(heartbeatJob.queue).getJob(job.id!))?.returnvalue, {
      what: 'the heartbeat job to complete',
    });
    expect(result).toEqual({ source: 'slice-test', beats: 1 });
    const doc = await heartbeatModel(ctx.mongo).findById('slice-test').lean();
    expect(doc?.beats).toBe(1);
    expect(doc?.at).toBeInstanceOf(Date);
  });

  it('rejects a payload that does not match the catalog schema before it reaches Redis', async () => {
    await expect(ctx.producer.add(heartbeatJob as never, { source: 'jo@example.com' })).rejects.toThrow(/invalid payload for job 'heartbeat': source/);
    expect(await ctx.runtime.queue(heartbeatJob.queue).count()).toBe(0);
  });
});
