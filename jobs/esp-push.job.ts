import { z } from 'zod';
import { ESP_NAMES, type EspName } from '../src/esp/types.js';
import type { Services } from '../src/lib/context.js';
import { defineJob } from '../src/queues/define-job.js';
import { espQueueName, QUEUE_MAINTENANCE } from '../src/queues/names.js';

export const ESP_PUSH_JOB = 'push-contact';

const payload = z.strictObject({ contactId: z.string().min(1).max(64) });

/** One queue per ESP: its rate limit, outage or 429 storm never slows another ESP. */
function espPushJob(esp: EspName) {
  return defineJob({
    name: ESP_PUSH_JOB,
    queue: espQueueName(esp),
    schema: payload,
    options: { attempts: 8, backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 } },
    handler: async (p, ctx: { services: Services }) => ctx.services.pushContact(esp, p.contactId),
  });
}

export const espPushJobs = ESP_NAMES.map(espPushJob);

export const sweepOutboxJob = defineJob({
  name: 'sweep-outbox',
  queue: QUEUE_MAINTENANCE,
  schema: z.strictObject({}),
  options: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
  handler: async (_p, ctx: { services: Services }) => ctx.services.sweepOutbox(),
});
