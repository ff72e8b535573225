import { type JobsOptions, Queue, UnrecoverableError, Worker, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../lib/logger.js';
import { createRedisConnection } from './connection.js';
import type { JobDefinition } from './define-job.js';
import { JobPermanentFailure, JobRateLimited } from './failure-policy.js';

export { UnrecoverableError } from 'bullmq';

const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

export interface QueueRuntimeOptions {
  redisUrl: string;
  prefix: string;
  log: Logger;
}

/** The only owner of BullMQ Queue/Worker instances: one shared producer connection, workers own theirs. */
export class QueueRuntime {
  readonly producer: Redis;
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];

  constructor(private readonly options: QueueRuntimeOptions) {
    this.producer = createRedisConnection(options.redisUrl, 'producer');
    this.producer.on('error', (err) => options.log.warn({ err }, 'redis producer connection error'));
  }

  get prefix(): string {
    return this.options.prefix;
  }

  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.producer, prefix: this.options.prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
      queue.on('error', (err) => this.options.log.warn({ err, queue: name }, 'queue error'));
      this.queues.set(name, queue);
    }
    return queue;
  }

  knownQueues(): Queue[] {
    return [...this.queues.values()];
  }

  startWorker(
    name: string,
    processor: ConstructorParameters<typeof Worker>[1],
    options: Omit<WorkerOptions, 'connection' | 'prefix'> = {},
  ): Worker {
    const worker = new Worker(name, processor, {
      connection: createRedisConnection(this.options.redisUrl, 'worker'),
      prefix: this.options.prefix,
      concurrency: 10,
      ...options,
    });
    worker.on('error', (err) => this.options.log.warn({ err, queue: name }, 'worker error'));
    worker.on('failed', (job, err) =>
      this.options.log.warn({ queue: name, jobId: job?.id, attemptsMade: job?.attemptsMade, err: err.message }, 'job failed'),
    );
    this.workers.push(worker);
    return worker;
  }

  activeWorkers(): readonly Worker[] {
    return this.workers;
  }

  /** Stops taking jobs and waits for in-flight ones, up to `graceMs`; then forces. */
  async closeWorkers(graceMs: number): Promise<void> {
    const closing = Promise.all(this.workers.map((w) => w.close()));
    const timedOut = await Promise.race([
      closing.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref()),
    ]);
    if (timedOut) {
      this.options.log.warn({ graceMs }, 'workers did not drain within the grace period; forcing close');
      await Promise.all(this.workers.map((w) => w.close(true)));
    }
    await Promise.all(this.workers.map((w) => w.disconnect().catch(() => {})));
    this.workers.length = 0;
  }

  async close(graceMs = 10_000): Promise<void> {
    await this.closeWorkers(graceMs);
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    this.producer.disconnect();
  }
}

/**
 * Adds a catalog job after validating its payload with the catalog schema, so no producer can
 * put an unknown shape (or PII) into Redis.
 */
export async function enqueue<S>(
  runtime: QueueRuntime,
  definition: JobDefinition<S>,
  payload: unknown,
  options: JobsOptions = {},
) {
  const data = definition.schema.parse(payload);
  return runtime.queue(definition.queue).add(definition.name, data, { ...definition.options, ...options });
}

/** One BullMQ Worker per queue, dispatching by job name to the catalog handlers. */
export function startCatalogWorkers<S>(
  runtime: QueueRuntime,
  catalog: readonly JobDefinition<S>[],
  services: S,
  log: Logger,
  opts: { queues?: readonly string[]; workerOptions?: (queue: string) => Omit<WorkerOptions, 'connection' | 'prefix'> },
): Worker[] {
  const byQueue = new Map<string, Map<string, JobDefinition<S>>>();
  for (const def of catalog) {
    if (opts.queues && !opts.queues.includes(def.queue)) continue;
    const jobs = byQueue.get(def.queue) ?? new Map<string, JobDefinition<S>>();
    jobs.set(def.name, def);
    byQueue.set(def.queue, jobs);
  }
  const started: Worker[] = [];
  for (const [queueName, jobs] of byQueue) {
    let worker: Worker | undefined;
    worker = runtime.startWorker(
        queueName,
        async (job) => {
          const def = jobs.get(job.name);
          if (!def) throw new UnrecoverableError(`unknown job name '${job.name}' on queue '${queueName}'`);
          const parsed = def.schema.safeParse(job.data);
          if (!parsed.success) {
            throw new UnrecoverableError(`invalid payload for '${job.name}': ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
          }
          try {
            return await def.handler(parsed.data, {
              services,
              log: log.child({ queue: queueName, job: job.name, jobId: job.id }),
              job: { id: job.id, attemptsMade: job.attemptsMade, queue: queueName },
            });
          } catch (err) {
            if (err instanceof JobRateLimited && worker) {
              // The whole queue waits (the ESP asked us to); the job keeps its attempts.
              await worker.rateLimit(err.delayMs);
              throw Worker.RateLimitError();
            }
            if (err instanceof JobPermanentFailure) throw new UnrecoverableError(err.message);
            throw err;
          }
        },
        opts.workerOptions?.(queueName) ?? {},
      );
    started.push(worker);
  }
  return started;
}
