import { z } from 'zod';
import type { Services } from '../src/lib/context.js';
import { defineJob } from '../src/queues/define-job.js';
import { QUEUE_APPLY } from '../src/queues/names.js';
import { UnrecoverableError } from '../src/queues/runtime.js';
import { UnknownEventError } from '../src/services/apply-event.js';

/** Applies one stored consent event to its contact. The payload is the eventId, never PII. */
export const applyConsentEventJob = defineJob({
  name: 'apply-consent-event',
  queue: QUEUE_APPLY,
  schema: z.strictObject({ eventId: z.string().min(1).max(128) }),
  options: { attempts: 12, backoff: { type: 'exponential', delay: 500, jitter: 0.5 } },
  handler: async (payload, ctx: { services: Services }) => {
    try {
      return await ctx.services.applyEvent(payload.eventId);
    } catch (err) {
      if (err instanceof UnknownEventError) throw new UnrecoverableError(err.message);
      throw err;
    }
  },
});

const SAFE_JOB_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** Deterministic per event, so enqueueing the same event twice while it waits adds one job. */
export function applyJobId(eventId: string, hash: (s: string) => string): string {
  return SAFE_JOB_ID.test(eventId) ? `apply-${eventId}` : `apply-h${hash(eventId)}`;
}
