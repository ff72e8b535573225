import { sweepOutboxJob } from '../../jobs/esp-push.job.js';
import { catalog } from '../../jobs/index.js';
import { heartbeatJob } from '../../jobs/heartbeat.job.js';
import { reconcileScheduledJob } from '../../jobs/reconcile.job.js';
import { sweepPendingEventsJob } from '../../jobs/sweep-pending-events.job.js';
import type { AppContext } from '../lib/context.js';
import { QUEUE_MAINTENANCE, QUEUE_RECONCILE } from '../queues/names.js';

export interface Schedule {
  id: string;
  queue: string;
  every?: number;
  pattern?: string;
  job: { name: string; data: Record<string, unknown> };
}

/** The schedules this release runs; ids not listed here are removed from Redis at start-up. */
export function schedules(config: AppContext['config'], esps: readonly string[] = []): Schedule[] {
  const sweepEvery = config.sweeper.intervalMs;
  const reconcile: Schedule[] = esps.map((esp) => ({
    id: `reconcile-${esp}`,
    queue: reconcileScheduledJob.queue,
    pattern: esp === 'dynamic-yield' ? config.reconcile.cronDynamicYield : config.reconcile.cron,
    job: { name: reconcileScheduledJob.name, data: { esp } },
  }));
  return [
    ...reconcile,
    { id: 'heartbeat', queue: heartbeatJob.queue, every: 60_000, job: { name: heartbeatJob.name, data: { source: 'scheduler' } } },
    { id: 'sweep-pending-events', queue: sweepPendingEventsJob.queue, every: sweepEvery, job: { name: sweepPendingEventsJob.name, data: {} } },
    { id: 'sweep-outbox', queue: sweepOutboxJob.queue, every: sweepEvery, job: { name: sweepOutboxJob.name, data: {} } },
  ];
}

/**
 * Registers BullMQ job schedulers (idempotent upserts by id) from this single process and
 * removes stale ones, so a renamed or dropped schedule does not keep firing.
 */
export async function startScheduler(ctx: AppContext): Promise<{ stop(): Promise<void> }> {
  const wanted = schedules(ctx.config, ctx.esps);
  // Every queue that can hold schedules, so one whose ESP was disabled loses its stale schedule too.
  const queueNames = new Set([...wanted.map((s) => s.queue), QUEUE_RECONCILE, QUEUE_MAINTENANCE]);
  for (const queueName of queueNames) {
    const queue = ctx.runtime.queue(queueName);
    const existing = await queue.getJobSchedulers();
    for (const scheduler of existing) {
      if (!wanted.some((s) => s.id === scheduler.key && s.queue === queueName)) {
        await queue.removeJobScheduler(scheduler.key);
        ctx.log.info({ id: scheduler.key, queue: queueName }, 'removed stale schedule');
      }
    }
  }
  for (const s of wanted) {
    const definition = catalog.find((d) => d.queue === s.queue && d.name === s.job.name);
    if (!definition) throw new Error(`schedule ${s.id} names job '${s.job.name}', which is not in the catalog`);
    await ctx.runtime
      .queue(s.queue)
      .upsertJobScheduler(
        s.id,
        s.every ? { every: s.every } : { pattern: s.pattern!, tz: 'UTC' },
        ctx.producer.templateOf(definition as never, s.job.data),
      );
    ctx.log.info({ id: s.id, queue: s.queue, every: s.every, pattern: s.pattern }, 'schedule registered');
  }
  return { stop: async () => {} };
}
