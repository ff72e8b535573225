import type { Job, Worker } from 'bullmq';
import type { Metrics } from './metrics.js';

/** Seconds from the start of the attempt (`processedOn`) to its end, or undefined when unknown. */
export function attemptSeconds(
  job: Pick<Job, 'processedOn' | 'finishedOn'> | undefined,
  nowMs: number,
): number | undefined {
  if (!job?.processedOn) return undefined;
  const end = job.finishedOn ?? nowMs;
  return end >= job.processedOn ? (end - job.processedOn) / 1000 : undefined;
}

/**
 * Records `consent_sync_job_duration_seconds{queue}` for every attempt a worker finishes
 * (completed or failed, including failures that will be retried).
 */
export function observeWorker(metrics: Pick<Metrics, 'jobDuration'>, worker: Worker): void {
  const record = (job: Job | undefined) => {
    const seconds = attemptSeconds(job, Date.now());
    if (seconds !== undefined) metrics.jobDuration(worker.name, seconds);
  };
  worker.on('completed', (job) => record(job));
  worker.on('failed', (job) => record(job));
}
