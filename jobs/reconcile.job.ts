import { z } from 'zod';
import { ESP_NAMES } from '../src/esp/types.js';
import type { Services } from '../src/app/context.js';
import { defineJob } from '../src/queues/define-job.js';
import { QUEUE_RECONCILE } from '../src/queues/names.js';
import { reconcileRetry } from '../src/queues/retry-policy.js';

const espName = z.enum(ESP_NAMES as [string, ...string[]]);

/** Fired by the per-ESP job scheduler: opens a run and queues its first page. */
export const reconcileScheduledJob = defineJob({
  name: 'reconcile-scheduled',
  queue: QUEUE_RECONCILE,
  schema: z.strictObject({ esp: espName }),
  options: reconcileRetry,
  handler: async (p, ctx: { services: Services }) => ctx.services.startReconciliation(p.esp as never, 'schedule'),
});

/** One page of one run; queues the next page, so runs resume after a crash and memory stays flat. */
export const reconcilePageJob = defineJob({
  name: 'reconcile-page',
  queue: QUEUE_RECONCILE,
  schema: z.strictObject({
    runId: z.string().min(1).max(200),
    esp: espName,
    phase: z.enum(['remote', 'ours']),
    cursor: z.string().max(4_000).optional(),
    page: z.number().int().min(0),
  }),
  options: reconcileRetry,
  handler: async (p, ctx: { services: Services }) => ctx.services.reconcilePage(p as never),
});
