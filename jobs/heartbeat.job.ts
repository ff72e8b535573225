import { z } from 'zod';
import type { Services } from '../src/app/context.js';
import { defineJob } from '../src/queues/define-job.js';
import { QUEUE_MAINTENANCE } from '../src/queues/names.js';
import { onceOnly } from '../src/queues/retry-policy.js';

export const heartbeatJob = defineJob({
  name: 'heartbeat',
  queue: QUEUE_MAINTENANCE,
  schema: z.object({ source: z.string().min(1).max(100).regex(/^[\w.-]+$/) }).strict(),
  options: onceOnly,
  handler: async (payload, ctx: { services: Services }) => {
    const doc = await ctx.services.recordHeartbeat(payload.source);
    return { source: doc._id, beats: doc.beats };
  },
});
