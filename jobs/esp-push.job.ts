import { z } from 'zod';
import { LANES, type Lane } from '../src/domain/index.js';
import type { EspName } from '../src/esp/types.js';
import type { Services } from '../src/app/context.js';
import { defineJob } from '../src/queues/define-job.js';
import { espFirstLaneQueueName, espQueueName, QUEUE_MAINTENANCE } from '../src/queues/names.js';
import { onceOnly, pushRetry } from '../src/queues/retry-policy.js';

export const ESP_PUSH_JOB = 'push-contacts';

/** Largest number of contacts one push job carries; the wiring sizes jobs well below it per ESP. */
export const MAX_CONTACTS_PER_PUSH_JOB = 5_000;

const payload = z.strictObject({
  contactIds: z.array(z.string().min(1).max(64)).min(1).max(MAX_CONTACTS_PER_PUSH_JOB),
  lane: z.union(LANES.map((l) => z.literal(l)) as [z.ZodLiteral<Lane>, ...z.ZodLiteral<Lane>[]]),
});

/**
 * Queues per ESP: its rate limit, outage or 429 storm never slows another ESP. A job carries
 * many contacts of one lane. Lane 1 has a queue of its own per ESP (espFirstLaneQueueName), so
 * its jobs never wait for a worker slot that an import's job holds while it waits for budget;
 * lanes 2 and 3 share the other queue, lane 2 first by BullMQ priority (see pushScheduling).
 */
function espPushJob(esp: EspName, queue: string) {
  return defineJob({
    name: ESP_PUSH_JOB,
    queue,
    schema: payload,
    options: (config) => pushRetry(config, esp),
    handler: async (p, ctx: { services: Services }) => ctx.services.pushContacts(esp, p.lane, p.contactIds),
  });
}

const pushJobs = new Map<string, ReturnType<typeof espPushJob>>();

/** The push job of an ESP for a lane: lane 1 on its own queue. Defined on first use, for any configured ESP. */
export function espPushJobOf(esp: EspName, lane: Lane) {
  const queue = lane === 1 ? espFirstLaneQueueName(esp) : espQueueName(esp);
  let job = pushJobs.get(queue);
  if (job === undefined) {
    job = espPushJob(esp, queue);
    pushJobs.set(queue, job);
  }
  return job;
}

/** The push jobs of `esps`: each ESP's lane 1 queue and its shared queue. */
export function espPushJobsFor(esps: readonly EspName[]) {
  return esps.flatMap((esp) => [espPushJobOf(esp, 1), espPushJobOf(esp, 2)]);
}

/** In the shared queue BullMQ takes prioritized jobs lowest number first: lane 2 before lane 3. */
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
