import { z } from 'zod';
import type { Services } from '../src/app/context.js';
import { ESP_NAME_PATTERN } from '../src/esp/types.js';
import { defineJob } from '../src/queues/define-job.js';
import { QUEUE_RECONCILE } from '../src/queues/names.js';
import { reconcileRetry } from '../src/queues/retry-policy.js';

/**
 * Any ESP name the registry could give: the configured list is known only to the process, whose
 * services refuse an ESP that is not connected.
 */
const espName = z.string().regex(ESP_NAME_PATTERN, 'an ESP name: lower-case letters, digits and dashes');

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
