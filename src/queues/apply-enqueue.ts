import { createHash } from 'node:crypto';
import {
  applyConsentEventsJob,
  applyScheduling,
  EVENTS_PER_APPLY_JOB,
  sweptApplyJobId,
} from '../../jobs/apply-consent-events.job.js';
import { type Lane, LANES } from '../domain/index.js';
import type { JobProducer, QueueRuntime } from './runtime.js';

type StoredEventRef = { eventId: string; lane: Lane };

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

/** How stored events become apply jobs: as recorded (batched), and as the sweeper finds them (one each). */
export function createApplyEnqueuers(runtime: QueueRuntime, producer: JobProducer<unknown>) {
  /** One apply job per lane and EVENTS_PER_APPLY_JOB stored events: a producer request is one job or a few. */
  const enqueueApply = async (events: readonly StoredEventRef[]) => {
    const jobs = [];
    for (const lane of LANES) {
      const eventIds = events.filter((e) => e.lane === lane).map((e) => e.eventId);
      for (let i = 0; i < eventIds.length; i += EVENTS_PER_APPLY_JOB) {
        jobs.push({ payload: { eventIds: eventIds.slice(i, i + EVENTS_PER_APPLY_JOB), lane }, scheduling: applyScheduling(lane) });
      }
    }
    await producer.addMany(applyConsentEventsJob as never, jobs);
  };

  /**
   * Stragglers the sweeper finds (stored, never enqueued, or left by a job that failed) get one
   * job each, with the event's own job id: a sweep never piles jobs on a poison event. A job its
   * worker lost twice ("stalled more than allowable limit") failed without its handler failing,
   * and its id would make every re-enqueue a no-op, so exactly those are retried.
   */
  const enqueueSwept = async (events: readonly StoredEventRef[]) => {
    const queue = runtime.queue(applyConsentEventsJob.queue);
    for (const { eventId } of events) {
      const job = await queue.getJob(sweptApplyJobId(eventId, sha1));
      if (job && /stalled more than allowable limit/.test(job.failedReason ?? '') && (await job.getState()) === 'failed') {
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      }
    }
    await producer.addMany(
      applyConsentEventsJob as never,
      events.map(({ eventId, lane }) => ({
        payload: { eventIds: [eventId], lane },
        scheduling: { ...applyScheduling(lane), jobId: sweptApplyJobId(eventId, sha1) },
      })),
    );
  };

  return { enqueueApply, enqueueSwept };
}
