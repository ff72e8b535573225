import { z } from 'zod';
import { LANES, type Lane } from '../src/domain/index.js';
import { ESP_NAMES, type EspName } from '../src/esp/types.js';
import type { Services } from '../src/lib/context.js';
import { defineJob } from '../src/queues/define-job.js';
import { espQueueName, QUEUE_MAINTENANCE } from '../src/queues/names.js';
import { onceOnly, pushRetry } from '../src/queues/retry-policy.js';

export const ESP_PUSH_JOB = 'push-contacts';

/** Largest number of contacts one push job carries; the wiring sizes jobs well below it per ESP. */
export const MAX_CONTACTS_PER_PUSH_JOB = 5_000;

const payload = z.strictObject({
  contactIds: z.array(z.string().min(1).max(64)).min(1).max(MAX_CONTACTS_PER_PUSH_JOB),
  lane: z.union(LANES.map((l) => z.literal(l)) as [z.ZodLiteral<Lane>, ...z.ZodLiteral<Lane>[]]),
});

/**
 * One queue per ESP: its rate limit, outage or 429 storm never slows another ESP. A job carries
 * many contacts of one lane; lane 1 jobs have no BullMQ priority (so they go before every
 * prioritized job), lanes 2 and 3 have priority 2 and 3 (see pushScheduling).
 */
function espPushJob(esp: EspName) {
  return defineJob({
    name: ESP_PUSH_JOB,
    queue: espQueueName(esp),
    schema: payload,
    options: (config) => pushRetry(config, esp),
    handler: async (p, ctx: { services: Services }) => ctx.services.pushContacts(esp, p.lane, p.contactIds),
  });
}

export const espPushJobs = ESP_NAMES.map(espPushJob);

export function espPushJobOf(esp: EspName) {
  return espPushJobs[ESP_NAMES.indexOf(esp)]!;
}

/**
 * BullMQ takes un-prioritized jobs (its wait list) before any prioritized one, and prioritized
 * ones lowest number first: so lane 1 is un-prioritized and the others carry their lane.
 */
export function pushScheduling(lane: Lane, delayMs = 0) {
  return { ...(lane === 1 ? {} : { priority: lane }), ...(delayMs > 0 ? { delay: delayMs } : {}) };
}

export const sweepOutboxJob = defineJob({
  name: 'sweep-outbox',
  queue: QUEUE_MAINTENANCE,
  schema: z.strictObject({}),
  options: onceOnly,
  handler: async (_p, ctx: { services: Services }) => ctx.services.sweepOutbox(),
});
