import { z } from 'zod';
import type { Services } from '../src/app/context.js';
import { defineJob } from '../src/queues/define-job.js';
import { QUEUE_MAINTENANCE } from '../src/queues/names.js';
import { onceOnly } from '../src/queues/retry-policy.js';

/**
 * Re-enqueues stored events that are still pending after SWEEP_DELAY_MS: whatever was stored but
 * never reached Redis (a Redis loss between the insert and the enqueue) is applied after all.
 */
export const sweepPendingEventsJob = defineJob({
  name: 'sweep-pending-events',
  queue: QUEUE_MAINTENANCE,
  schema: z.strictObject({}),
  options: onceOnly,
  handler: async (_payload, ctx: { services: Services }) => ctx.services.sweepPendingEvents(),
});
