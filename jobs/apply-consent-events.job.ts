import { z } from 'zod';
import { LANES, type Lane } from '../src/domain/index.js';
import type { Services } from '../src/app/context.js';
import { defineJob } from '../src/queues/define-job.js';
import { QUEUE_APPLY } from '../src/queues/names.js';
import { applyRetry } from '../src/queues/retry-policy.js';

/** Largest number of stored events one apply job may carry (the payload schema's limit). */
export const MAX_EVENTS_PER_APPLY_JOB = 1_000;

/**
 * Events per apply job as the producer splits a request: a job then finishes within one batch or
 * two, so a person's opt-out queued behind an import soon gets a worker slot.
 */
export const EVENTS_PER_APPLY_JOB = 250;

/**
 * Applies stored consent events to their contacts: one job per producer request and lane (or
 * sweep), not one per event. The payload is eventIds only, never PII. A retry applies only what
 * is still pending: applied events are recognised (their status is `done`) and only re-announce
 * their contacts' pushes. Jobs are queued by the lane their events will likely take
 * (laneOfEvent): a person's opt-out is applied before an import that waits in the same queue.
 */
export const applyConsentEventsJob = defineJob({
  name: 'apply-consent-events',
  queue: QUEUE_APPLY,
  schema: z.strictObject({
    eventIds: z.array(z.string().min(1).max(128)).min(1).max(MAX_EVENTS_PER_APPLY_JOB),
    lane: z.union(LANES.map((l) => z.literal(l)) as [z.ZodLiteral<Lane>, ...z.ZodLiteral<Lane>[]]).optional(),
  }),
  options: applyRetry,
  handler: async (payload, ctx: { services: Services }) => ctx.services.applyEvents(payload.eventIds, payload.lane ?? 3),
});

/** Same rule as push jobs: lane 1 un-prioritized (before every prioritized job), others by lane. */
export function applyScheduling(lane: Lane) {
  return lane === 1 ? {} : { priority: lane };
}

const SAFE_JOB_ID = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * The job id of a swept event's own apply job: deterministic per event, so a sweep that finds the
 * event still pending while its job waits, retries or sits failed (a poison event) adds nothing.
 */
export function sweptApplyJobId(eventId: string, hash: (s: string) => string): string {
  return SAFE_JOB_ID.test(eventId) ? `apply-${eventId}` : `apply-h${hash(eventId)}`;
}
