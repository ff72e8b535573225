import type { Worker } from 'bullmq';
import { catalogFor } from '../../jobs/index.js';
import { espOfQueue, QUEUE_APPLY, allQueueNames } from '../queues/names.js';
import { startCatalogWorkers } from '../queues/runtime.js';
import type { AppContext } from './context.js';
import { observeWorker } from '../metrics/worker.js';

/**
 * Starts a worker for every queue this process runs (all, or WORKER_QUEUES).
 */
export function startWorkers(ctx: AppContext, opts: { queues?: readonly string[] } = {}): Worker[] {
  const wanted = opts.queues ?? ctx.config.worker.queues ?? allQueueNames(ctx.esps);
  const known = new Set(allQueueNames(ctx.esps));
  const unknown = wanted.filter((q) => !known.has(q));
  if (unknown.length > 0)
    throw new Error(`WORKER_QUEUES names unknown or disabled queues: ${unknown.join(', ')}`);
  const workers = startCatalogWorkers(ctx.runtime, catalogFor(ctx.esps), ctx.services, ctx.log, {
    queues: wanted,
    workerOptions: (queue) => ({
      lockDuration: ctx.config.workerLocks.lockDurationMs,
      stalledInterval: ctx.config.workerLocks.stalledIntervalMs,
      maxStalledCount: ctx.config.workerLocks.maxStalledCount,
      ...queueOptions(ctx, queue),
    }),
  });
  for (const worker of workers) observeWorker(ctx.metrics, worker);
  return workers;
}

function queueOptions(ctx: AppContext, queue: string) {
  if (queue === QUEUE_APPLY) return { concurrency: ctx.config.worker.applyConcurrency };
  if (espOfQueue(queue) !== undefined) {
    // No BullMQ limiter: a job carries many contacts and a varying number of requests, so the
    // ESP's budget is kept per request by the adapter's lane-aware pacer (esp/concurrency.ts).
    return { concurrency: ctx.config.espWorkerConcurrency };
  }
  return { concurrency: 2 };
}
