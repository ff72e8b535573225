import { sweepOutboxJob } from '../../jobs/esp-push.job.js';
import { catalog } from '../../jobs/index.js';
import { heartbeatJob } from '../../jobs/heartbeat.job.js';
import { reconcileScheduledJob } from '../../jobs/reconcile.job.js';
import { sweepPendingEventsJob } from '../../jobs/sweep-pending-events.job.js';
import type { AppContext } from '../app/context.js';
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
    pattern: config.esps[esp]?.reconcileCron ?? config.reconcile.cron,
    job: { name: reconcileScheduledJob.name, data: { esp } },
  }));
  return [
    ...reconcile,
    { id: 'heartbeat', queue: heartbeatJob.queue, every: 60_000, job: { name: heartbeatJob.name, data: { source: 'scheduler' } } },
    { id: 'sweep-pending-events', queue: sweepPendingEventsJob.queue, every: sweepEvery, job: { name: sweepPendingEventsJob.name, data: {} } },
    { id: 'sweep-outbox', queue: sweepOutboxJob.queue, every: sweepEvery, job: { name: sweepOutboxJob.name, data: {} } },
  ];
}

function definitionOf(s: Schedule) {
  const definition = catalog.find((d) => d.queue === s.queue && d.name === s.job.name);
  if (!definition) throw new Error(`schedule ${s.id} names job '${s.job.name}', which is not in the catalog`);
  return definition;
}

function upsert(ctx: AppContext, s: Schedule) {
  const definition = definitionOf(s);
  return ctx.runtime
    .queue(s.queue)
    .upsertJobScheduler(
      s.id,
      s.every ? { every: s.every } : { pattern: s.pattern!, tz: 'UTC' },
      ctx.producer.templateOf(definition as never, s.job.data),
    );
}

export interface RunningScheduler {
  /** Re-creates the schedules missing from Redis; resolves with their ids. */
  check(): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * Registers BullMQ job schedulers (idempotent upserts by id) from this single process and
 * removes stale ones, so a renamed or dropped schedule does not keep firing.
 *
 * Then keeps them there: a Redis that comes back empty (restarted without its data, a failover
 * to an empty replica, FLUSHALL) has lost every job scheduler, and without the sweepers an
 * opt-out stored while Redis was away would never leave MongoDB. So on every `ready` of the
 * connection (a reconnect) and every SCHEDULE_CHECK_INTERVAL_MS (a flush keeps the connection),
 * each schedule is looked up by id and the missing ones are upserted again, with a log line and
 * `consent_sync_schedules_restored_total`; a restored interval schedule (a sweeper) also runs
 * once at once. Present ones are left alone (an upsert would move their next run).
 */
export async function startScheduler(ctx: AppContext): Promise<RunningScheduler> {
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
    await upsert(ctx, s);
    ctx.log.info({ id: s.id, queue: s.queue, every: s.every, pattern: s.pattern }, 'schedule registered');
  }

  const restoreMissing = async (): Promise<string[]> => {
    const restored: string[] = [];
    for (const s of wanted) {
      if (await ctx.runtime.queue(s.queue).getJobScheduler(s.id)) continue;
      await upsert(ctx, s);
      // A Redis that lost its schedules lost its jobs too: the interval jobs (the sweepers, the
      // heartbeat) run once now instead of an interval later. Cron schedules (reconciliation) wait.
      if (s.every) await ctx.producer.add(definitionOf(s) as never, s.job.data);
      restored.push(s.id);
      ctx.metrics.scheduleRestored(s.id);
      ctx.log.warn(
        { id: s.id, queue: s.queue, every: s.every, pattern: s.pattern, alert: 'schedule_restored' },
        'schedule was missing from Redis (Redis lost its data?); created it again',
      );
    }
    return restored;
  };
  // One check at a time: a reconnect and the timer may ask together.
  let running: Promise<string[]> | undefined;
  const check = (): Promise<string[]> => {
    running ??= restoreMissing().finally(() => {
      running = undefined;
    });
    return running;
  };
  const checkQuietly = (why: string) => {
    check().catch((err: Error) => ctx.log.warn({ err: err.message, why }, 'schedule check failed (Redis unreachable?); retried at the next one'));
  };
  const onReady = () => checkQuietly('redis ready');
  ctx.runtime.producer.on('ready', onReady);
  const timer = setInterval(() => checkQuietly('interval'), ctx.config.scheduler.checkIntervalMs);
  timer.unref();
  return {
    check,
    stop: async () => {
      clearInterval(timer);
      ctx.runtime.producer.off('ready', onReady);
      await running?.catch(() => {});
    },
  };
}
