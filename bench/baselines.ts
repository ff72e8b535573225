import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import type { Connection } from 'mongoose';
import { applyConsentEventsJob } from '../jobs/apply-consent-events.job.js';
import { withDatabase } from '../src/dev/mongo-server.js';
import { createPolicy } from '../src/domain/index.js';
import type { Logger } from '../src/lib/logger.js';
import { connectMongo } from '../src/persistence/connect.js';
import { ESP_NAMES } from '../src/esp/registry.js';
import { createModels, ensureIndexes, type Models } from '../src/persistence/models.js';
import { applyRetry } from '../src/queues/retry-policy.js';
import { QueueRuntime } from '../src/queues/runtime.js';
import { round } from './lib/proc.js';
import { commandDelta, commandStats, total } from './lib/redis-stats.js';
import { seedContact, seedContacts } from './lib/seed.js';

/**
 * The two ceilings the end-to-end figure is compared with, measured on the same servers in the
 * same run, in this (the orchestrator's) process:
 * (A) no-op jobs through BullMQ with the apply job's name and options (the catalog's applyRetry),
 *     the apply worker's connection settings and concurrency — QueueRuntime itself builds the
 *     queue and the worker;
 * (B) single-document updates by `_id` through mongoose on a connection built by connectMongo
 *     (pool of 20), at the apply worker's concurrency, on contact documents of realistic size.
 */

export interface BullmqBaseline {
  jobs: number;
  concurrency: number;
  add_jobs_per_s: number;
  jobs_per_s: number;
  redis_cmds_per_job: number;
  redis_cmds: Record<string, number>;
}

export async function bullmqBaseline(opts: {
  redisUrl: string;
  prefix: string;
  jobs: number;
  concurrency: number;
  log: Logger;
}): Promise<BullmqBaseline> {
  const runtime = new QueueRuntime({ redisUrl: opts.redisUrl, prefix: opts.prefix, log: opts.log });
  const stats = new Redis(opts.redisUrl);
  const queueName = 'bench-noop';
  const queue = runtime.queue(queueName);
  try {
    // Jobs of the apply job's name and options (a one-event payload), added with addBulk in
    // chunks of 500: the no-op cost of one BullMQ job, whatever a job carries.
    const addStarted = performance.now();
    for (let i = 0; i < opts.jobs; i += 500) {
      const ids = Array.from({ length: Math.min(500, opts.jobs - i) }, (_, k) => `noop-${i + k}`);
      await queue.addBulk(
        ids.map((eventId) => ({ name: applyConsentEventsJob.name, data: { eventIds: [eventId] }, opts: applyRetry() })),
      );
    }
    const addMs = performance.now() - addStarted;

    const before = await commandStats(stats);
    let done = 0;
    const started = performance.now();
    const finished = new Promise<void>((resolve) => {
      const worker = runtime.startWorker(queueName, async () => undefined, { concurrency: opts.concurrency });
      worker.on('completed', () => {
        if (++done === opts.jobs) resolve();
      });
    });
    await finished;
    const ms = performance.now() - started;
    const redisCmds = commandDelta(before, await commandStats(stats));
    return {
      jobs: opts.jobs,
      concurrency: opts.concurrency,
      add_jobs_per_s: round((opts.jobs / addMs) * 1000),
      jobs_per_s: round((opts.jobs / ms) * 1000),
      redis_cmds_per_job: round(total(redisCmds) / opts.jobs, 2),
      redis_cmds: redisCmds,
    };
  } finally {
    await runtime.closeWorkers(2_000);
    await queue.obliterate({ force: true }).catch(() => {});
    await runtime.close(2_000);
    stats.disconnect();
  }
}

export interface MongoBaseline {
  documents: number;
  updates: number;
  concurrency: number;
  updates_per_s: number;
  reads_per_s: number;
  doc_bytes: number;
}

async function runConcurrent(n: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await op(next++);
    }),
  );
  return performance.now() - started;
}

export async function openModels(mongoUri: string, database: string): Promise<{ conn: Connection; models: Models }> {
  const conn = await connectMongo(withDatabase(mongoUri, database));
  const models = createModels(conn);
  await ensureIndexes(models, ESP_NAMES);
  return { conn, models };
}

export async function mongoBaseline(opts: {
  mongoUri: string;
  database: string;
  documents: number;
  updates: number;
  concurrency: number;
}): Promise<MongoBaseline> {
  const { conn, models } = await openModels(opts.mongoUri, opts.database);
  try {
    const policy = createPolicy();
    await seedContacts(models, policy, opts.documents, () => false);
    // Give a freshly created collection a moment before timing it.
    await new Promise((r) => setTimeout(r, 500));
    const id = (i: number) => `seed-${String((i * 7919) % opts.documents).padStart(8, '0')}`;
    const updateMs = await runConcurrent(opts.updates, opts.concurrency, (i) =>
      models.contacts.updateOne({ _id: id(i) }, { $set: { updatedAt: new Date() }, $inc: { rev: 1 } }),
    );
    const readMs = await runConcurrent(opts.updates, opts.concurrency, (i) => models.contacts.findById(id(i)).lean());
    const docBytes = Buffer.byteLength(JSON.stringify(seedContact(0, policy, new Date(), 'opted_out').contact));
    return {
      documents: opts.documents,
      updates: opts.updates,
      concurrency: opts.concurrency,
      updates_per_s: round((opts.updates / updateMs) * 1000),
      reads_per_s: round((opts.updates / readMs) * 1000),
      doc_bytes: docBytes,
    };
  } finally {
    await conn.dropDatabase().catch(() => {});
    await conn.close();
  }
}
