import { Queue, UnrecoverableError, Worker, type WorkerOptions } from 'bullmq';
import type { Config } from '../../config/index.js';
import type { Logger } from '../lib/logger.js';
import { createRedisConnection, isClusterTarget, queuePrefix, type RedisClient, type RedisNode, type RedisTarget } from './connection.js';
import type { JobDefinition } from './define-job.js';
import { JobPermanentFailure, JobRateLimited } from './failure-policy.js';

export interface QueueRuntimeOptions {
  redisUrl: string;
  /** A Redis Cluster's seed nodes: every connection is a Cluster and every queue gets a hash-tagged prefix. */
  clusterNodes?: readonly RedisNode[] | undefined;
  /** QUEUE_PREFIX; the key prefix of each queue is `prefixOf(queue)`. */
  prefix: string;
  log: Logger;
}

/** The only owner of BullMQ Queue/Worker instances: one shared producer connection, workers own theirs. */
export class QueueRuntime {
  readonly producer: RedisClient;
  readonly target: RedisTarget;
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  /** The connection each worker was given: BullMQ does not close a connection it was handed. */
  private readonly workerConnections = new Map<Worker, RedisClient>();

  constructor(private readonly options: QueueRuntimeOptions) {
    this.target = { url: options.redisUrl, clusterNodes: options.clusterNodes };
    this.producer = createRedisConnection(this.target, 'producer');
    this.producer.on('error', (err) => options.log.warn({ err }, 'redis producer connection error'));
  }

  /** QUEUE_PREFIX (keys that are not a queue's, e.g. the producer rate limit, use it). */
  get prefix(): string {
    return this.options.prefix;
  }

  get cluster(): boolean {
    return isClusterTarget(this.target);
  }

  /**
   * Resolves once the shared producer connection is ready. On a Redis Cluster this matters: a
   * Cluster reports `connect` before it is `ready`, BullMQ takes `connect` as connected, and a
   * producer without offline queue then fails the Queue's first command (see queue()).
   */
  async ready(timeoutMs = 10_000): Promise<void> {
    if (this.producer.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.producer.off('ready', onReady);
        reject(new Error(`Redis did not become ready within ${timeoutMs} ms (status ${this.producer.status})`));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.producer.once('ready', onReady);
    });
  }

  /** The BullMQ key prefix of `queue` (hash-tagged on a cluster; connection.ts queuePrefix). */
  prefixOf(queue: string): string {
    return queuePrefix(this.options.prefix, queue, this.cluster);
  }

  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      // No default job options: every add carries the catalog's (JobProducer; queues/retry-policy.ts).
      queue = new Queue(name, { connection: this.producer, prefix: this.prefixOf(name) });
      queue.on('error', (err) => this.options.log.warn({ err, queue: name }, 'queue error'));
      this.queues.set(name, queue);
      // A Queue whose set-up failed (its connection was not ready: a Cluster between `connect`
      // and `ready`, a Redis outage) stays failed for good; forget it so the next use builds a new one.
      const created = queue;
      created.waitUntilReady().catch((err: Error) => {
        if (this.queues.get(name) !== created) return;
        this.queues.delete(name);
        this.options.log.warn({ err: err.message, queue: name }, 'queue set-up failed; it is set up again on its next use');
        void created.close().catch(() => {});
      });
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
    const connection = createRedisConnection(this.target, 'worker');
    const worker = new Worker(name, processor, {
      connection,
      prefix: this.prefixOf(name),
      concurrency: 10,
      ...options,
    });
    worker.on('error', (err) => this.options.log.warn({ err, queue: name }, 'worker error'));
    worker.on('failed', (job, err) =>
      this.options.log.warn({ queue: name, jobId: job?.id, attemptsMade: job?.attemptsMade, err: err.message }, 'job failed'),
    );
    this.workers.push(worker);
    this.workerConnections.set(worker, connection);
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
    // ioredis' own disconnect, not Worker.disconnect(): on a Redis Cluster the latter can wait
    // forever for an 'end' that a closed worker's connection never emits (seen after a pause/resume).
    for (const w of this.workers) this.workerConnections.get(w)?.disconnect();
    this.workerConnections.clear();
    this.workers.length = 0;
  }

  async close(graceMs = 10_000): Promise<void> {
    await this.closeWorkers(graceMs);
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    this.producer.disconnect();
  }
}

/** When and in which order a job runs; how it is retried belongs to the catalog, not the caller. */
export interface JobScheduling {
  /** BullMQ priority (lower first; none = before every prioritized job). */
  priority?: number;
  delay?: number;
  jobId?: string;
}

export class InvalidJobPayloadError extends Error {
  constructor(job: string, issues: readonly { path: PropertyKey[]; message: string }[]) {
    super(`invalid payload for job '${job}': ${issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    this.name = 'InvalidJobPayloadError';
  }
}

/**
 * The only way jobs enter Redis: each payload is validated with the catalog's schema (so no
 * unknown shape, and no PII, reaches Redis or Bull Board) and added with the catalog's options.
 */
export class JobProducer<S> {
  constructor(
    private readonly runtime: QueueRuntime,
    private readonly config: Config,
  ) {}

  async add(definition: JobDefinition<S>, payload: unknown, scheduling: JobScheduling = {}) {
    const [job] = await this.addMany(definition, [{ payload, scheduling }]);
    return job!;
  }

  /** One round trip for many jobs of one definition. */
  async addMany(definition: JobDefinition<S>, jobs: readonly { payload: unknown; scheduling?: JobScheduling }[]) {
    if (jobs.length === 0) return [];
    const options = definition.options(this.config);
    const bulk = jobs.map(({ payload, scheduling }) => {
      const parsed = definition.schema.safeParse(payload);
      if (!parsed.success) throw new InvalidJobPayloadError(definition.name, parsed.error.issues);
      return { name: definition.name, data: parsed.data, opts: { ...options, ...scheduling } };
    });
    return this.runtime.queue(definition.queue).addBulk(bulk);
  }

  /** The options a job scheduler's template carries: the same catalog options as any add. */
  templateOf(definition: JobDefinition<S>, data: Record<string, unknown>) {
    const parsed = definition.schema.safeParse(data);
    if (!parsed.success) throw new InvalidJobPayloadError(definition.name, parsed.error.issues);
    const { attempts, backoff, removeOnComplete, removeOnFail } = definition.options(this.config);
    return { name: definition.name, data: parsed.data as Record<string, unknown>, opts: { attempts, backoff, removeOnComplete, removeOnFail } };
  }
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
          if (!parsed.success) throw new UnrecoverableError(new InvalidJobPayloadError(job.name, parsed.error.issues).message);
          try {
            return await def.handler(parsed.data, {
              services,
              log,
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
