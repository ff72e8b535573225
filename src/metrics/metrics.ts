import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { LANES } from '../domain/lane.js';
import type { AppContext } from '../app/context.js';
import { bulkModels } from '../persistence/bulk.model.js';
import { countDeadLetters } from '../persistence/dead-letters.js';
import type { OutboxEntry } from '../persistence/models.js';
import { allQueueNames, espOfQueue } from '../queues/names.js';
import { laneFilter } from './backlog.js';

/**
 * Prometheus metrics of consent-sync (product.md §5): queue depths, job latency, ESP push outcomes,
 * outbox backlog and the age of its oldest entry per ESP and delivery lane, the age of the oldest
 * unpushed opt-out per lane (the compliance SLO: lane 1, a person's own opt-out, is what pages),
 * reconciliation drift and consent event outcomes.
 *
 * Every app gets its own Registry (never prom-client's global one), so tests can create several.
 * Gauges read from Redis and MongoDB are refreshed at scrape time by `collect(ctx)`, at most once
 * per `cacheMs` (concurrent scrapes share one refresh).
 */

/** BullMQ 6 job states (v6 has no `paused` state: jobs of a paused queue count as waiting). */
export const QUEUE_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'failed',
  'completed',
] as const;

export const METRIC_NAMES = {
  queueJobs: 'consent_sync_queue_jobs',
  jobDuration: 'consent_sync_job_duration_seconds',
  espPush: 'consent_sync_esp_push_total',
  outboxPending: 'consent_sync_outbox_pending',
  oldestPending: 'consent_sync_oldest_pending_seconds',
  oldestPendingOptOut: 'consent_sync_oldest_pending_optout_seconds',
  drift: 'consent_sync_drift_total',
  reconcileDrift: 'consent_sync_reconcile_drift_total',
  events: 'consent_sync_events_total',
  espQueuePaused: 'consent_sync_esp_queue_paused',
  producerGuard: 'consent_sync_producer_guard_total',
  schedulesRestored: 'consent_sync_schedules_restored_total',
  deadLetters: 'consent_sync_dead_letters',
  espBulkMode: 'consent_sync_esp_bulk_mode',
  espBulks: 'consent_sync_esp_bulks_total',
  espBulkContacts: 'consent_sync_esp_bulk_contacts_total',
} as const;

export interface Metrics {
  registry: Registry;
  /** One ESP push finished with `outcome` (e.g. acked, rejected, retryable, auth_failed). */
  /** One contact's push result on one channel (`none`: a contact with no decided channel). */
  espPush(esp: string, channel: string, outcome: string): void;
  /** One consent event was applied with `outcome` (applied, duplicate, stale, optin_blocked…). */
  eventApplied(outcome: string): void;
  jobDuration(queue: string, seconds: number): void;
  /** Drift found by the latest reconciliation of `esp` (replaces the previous value). */
  setDrift(esp: string, type: string, count: number): void;
  /** One drift a reconciliation found (push_not_stuck, esp_unsubscribed, lost_push…) on one channel. */
  reconcileDrift(esp: string, channel: string, kind: string): void;
  /** Marks an ESP queue paused by this process (the queue's own paused flag in Redis is read by collect). */
  setEspPaused(esp: string, paused: boolean): void;
  /** A `/v1/` request refused (unauthorized, rate_limited) or admitted unchecked because Redis did not answer (limit_unchecked). */
  producerGuard(outcome: string): void;
  /** The scheduler found job scheduler `schedule` missing from Redis and created it again. */
  scheduleRestored(schedule: string): void;
  /** Whether `esp` has lane 3 in bulk mode (also read from MongoDB by collect, for processes that do not check). */
  setBulkMode(esp: string, on: boolean): void;
  /** A bulk of `contacts` contacts was submitted, refused, processed, failed or given up at `esp`. */
  bulk(esp: string, outcome: string, contacts: number): void;
  /** Refreshes the Redis and MongoDB gauges, unless refreshed less than `cacheMs` ago. */
  collect(ctx: AppContext): Promise<void>;
}

export interface MetricsOptions {
  /** Minimum time between two refreshes from Redis/MongoDB (default 2 s). */
  cacheMs?: number;
  /** Clock, for the opt-out age. */
  now?: () => Date;
  /**
   * Register prom-client's process/runtime metrics (default true) under their standard names
   * (`process_*`, `nodejs_*`), which stock Node.js dashboards and alerts query; the `job` and
   * `instance` labels Prometheus adds tell consent-sync's processes from others.
   */
  defaultMetrics?: boolean;
}

type OutboxLike = Record<string, Partial<OutboxEntry> | null | undefined> | null | undefined;

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value === 'string' || typeof value === 'number') {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  return undefined;
}

/** The earliest `since` among outbox entries of `esps` that carry an opt-out, or undefined when none does. */
export function oldestOptOutSince(outboxes: Iterable<OutboxLike>, esps: readonly string[]): Date | undefined {
  let oldest: Date | undefined;
  for (const outbox of outboxes) {
    if (!outbox) continue;
    for (const esp of esps) {
      const entry = outbox[esp];
      if (entry?.optOut !== true) continue;
      const since = toDate(entry.since);
      if (since && (!oldest || since.getTime() < oldest.getTime())) oldest = since;
    }
  }
  return oldest;
}

/** Age in seconds of the oldest pending entry (or opt-out); 0 when there is none (and never negative on clock skew). */
export function pendingOptOutAgeSeconds(oldest: Date | undefined, now: Date): number {
  if (!oldest) return 0;
  return Math.max(0, (now.getTime() - oldest.getTime()) / 1000);
}

function enabledEsps(ctx: Pick<AppContext, 'config'>): string[] {
  return Object.values(ctx.config.esps)
    .filter((settings) => settings.enabled)
    .map((settings) => settings.esp);
}

/**
 * Every metric of the app, registered on `registry`. Over 80 lines on purpose: one declaration per
 * metric, so the catalog (names, help texts, labels) reads in one place.
 */
function defineInstruments(registry: Registry) {
  const registers = [registry];

  const queueJobs = new Gauge({
    name: METRIC_NAMES.queueJobs,
    help: 'Jobs per BullMQ queue and state.',
    labelNames: ['queue', 'state'] as const,
    registers,
  });
  const jobDuration = new Histogram({
    name: METRIC_NAMES.jobDuration,
    help: 'Processing time of a job, from start to completion or failure.',
    labelNames: ['queue'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers,
  });
  const espPush = new Counter({
    name: METRIC_NAMES.espPush,
    help: 'ESP push results per contact and channel, by ESP, channel (email, sms, push, tracking; none) and outcome.',
    labelNames: ['esp', 'channel', 'outcome'] as const,
    registers,
  });
  const outboxPending = new Gauge({
    name: METRIC_NAMES.outboxPending,
    help: 'Contacts with a change not yet pushed to the ESP (outbox entries), by delivery lane (1 person, 2 optout, 3 bulk); sum by (esp) for the total.',
    labelNames: ['esp', 'lane'] as const,
    registers,
  });
  const oldestPending = new Gauge({
    name: METRIC_NAMES.oldestPending,
    help: 'Age in seconds of the oldest outbox entry not yet pushed to the ESP, by delivery lane. 0 when none.',
    labelNames: ['esp', 'lane'] as const,
    registers,
  });
  const oldestOptOut = new Gauge({
    name: METRIC_NAMES.oldestPendingOptOut,
    help: 'Age in seconds of the oldest opt-out not yet pushed to every ESP, by delivery lane (compliance SLO: lane 1 pages). 0 when none.',
    labelNames: ['lane'] as const,
    registers,
  });
  const drift = new Gauge({
    name: METRIC_NAMES.drift,
    help: 'Drift found by the latest reconciliation, by ESP and type.',
    labelNames: ['esp', 'type'] as const,
    registers,
  });
  const reconcileDrift = new Counter({
    name: METRIC_NAMES.reconcileDrift,
    help: 'Drift found by reconciliation runs of this process, by ESP, channel and kind (push_not_stuck: our acknowledged push the ESP does not hold; esp_unsubscribed: the person unsubscribed at the ESP).',
    labelNames: ['esp', 'channel', 'kind'] as const,
    registers,
  });
  const events = new Counter({
    name: METRIC_NAMES.events,
    help: 'Consent events applied, by outcome.',
    labelNames: ['outcome'] as const,
    registers,
  });
  const espPaused = new Gauge({
    name: METRIC_NAMES.espQueuePaused,
    help: '1 when the ESP push queue is paused (e.g. after an authentication failure), else 0.',
    labelNames: ['esp'] as const,
    registers,
  });
  const producerGuard = new Counter({
    name: METRIC_NAMES.producerGuard,
    help: 'API requests refused (unauthorized, rate_limited) or admitted without a rate-limit check because Redis did not answer (limit_unchecked).',
    labelNames: ['outcome'] as const,
    registers,
  });
  const schedulesRestored = new Counter({
    name: METRIC_NAMES.schedulesRestored,
    help: 'Job schedulers the scheduler process found missing from Redis (e.g. Redis came back empty) and created again.',
    labelNames: ['schedule'] as const,
    registers,
  });
  const deadLetters = new Gauge({
    name: METRIC_NAMES.deadLetters,
    help: 'Contacts whose push the ESP refused permanently, waiting for a fix and a requeue (consent-sync deadletters).',
    labelNames: ['esp'] as const,
    registers,
  });
  const bulkMode = new Gauge({
    name: METRIC_NAMES.espBulkMode,
    help: '1 while the ESP sends lane 3 (imports, opt-ins, repairs) through its bulk path because that backlog would take longer than BULK_MODE_AFTER_S at the per-call budget, else 0.',
    labelNames: ['esp'] as const,
    registers,
  });
  const bulks = new Counter({
    name: METRIC_NAMES.espBulks,
    help: 'Bulks by ESP and outcome: submitted, refused (not accepted), processed, failed, given_up (not reported within BULK_MAX_PENDING_S).',
    labelNames: ['esp', 'outcome'] as const,
    registers,
  });
  const bulkContacts = new Counter({
    name: METRIC_NAMES.espBulkContacts,
    help: 'Contacts carried by bulks, by ESP and bulk outcome (as consent_sync_esp_bulks_total).',
    labelNames: ['esp', 'outcome'] as const,
    registers,
  });
  return {
    queueJobs,
    jobDuration,
    espPush,
    outboxPending,
    oldestPending,
    oldestOptOut,
    drift,
    reconcileDrift,
    events,
    espPaused,
    producerGuard,
    schedulesRestored,
    deadLetters,
    bulkMode,
    bulks,
    bulkContacts,
  };
}

type Instruments = ReturnType<typeof defineInstruments>;

/** Jobs per queue and state; returns whether each ESP's queues are paused in Redis (either one is enough). */
async function collectQueues(
  ctx: AppContext,
  esps: readonly string[],
  queueJobs: Instruments['queueJobs'],
): Promise<Map<string, boolean>> {
  const pausedQueues = new Map<string, boolean>();
  await Promise.all(
    allQueueNames(esps).map(async (name) => {
      const queue = ctx.runtime.queue(name);
      const [counts, paused] = await Promise.all([queue.getJobCounts(...QUEUE_STATES), queue.isPaused()]);
      for (const state of QUEUE_STATES) queueJobs.set({ queue: name, state }, counts[state] ?? 0);
      const esp = espOfQueue(name);
      // An ESP is paused when either of its queues is (pauseEsp pauses both).
      if (esp) pausedQueues.set(esp, (pausedQueues.get(esp) ?? false) || paused);
    }),
  );
  return pausedQueues;
}

// mongo-compat.md §7: only countDocuments and find with equality/$in/$nin/$exists, sort and limit.
// Per ESP and lane: a count, the oldest entry, the oldest opt-out entry.
async function collectOutbox(
  ctx: AppContext,
  esps: readonly string[],
  m: Instruments,
  now: () => Date,
): Promise<void> {
  const contacts = ctx.models.contacts;
  const oldestOf = (esp: string, filter: Record<string, unknown>) =>
    contacts
      .find(filter as never, { _id: 1, [`outbox.${esp}`]: 1 })
      .sort({ [`outbox.${esp}.since`]: 1 })
      .limit(1)
      .lean<{ outbox?: OutboxLike }[]>()
      .then((docs) => docs[0]?.outbox);
  const results = await Promise.all(
    esps.flatMap((esp) =>
      LANES.map(async (lane) => {
        const filter = laneFilter(esp, lane);
        const [pending, oldest, oldestOptOutEntry] = await Promise.all([
          contacts.countDocuments(filter as never),
          oldestOf(esp, filter),
          oldestOf(esp, { ...filter, [`outbox.${esp}.optOut`]: true }),
        ]);
        return { esp, lane, pending, oldest, oldestOptOutEntry };
      }),
    ),
  );
  const at = now();
  for (const r of results) {
    const labels = { esp: r.esp, lane: String(r.lane) };
    m.outboxPending.set(labels, r.pending);
    m.oldestPending.set(labels, pendingOptOutAgeSeconds(toDate(r.oldest?.[r.esp]?.since), at));
  }
  for (const lane of LANES) {
    const entries = results.filter((r) => r.lane === lane).map((r) => r.oldestOptOutEntry);
    m.oldestOptOut.set({ lane: String(lane) }, pendingOptOutAgeSeconds(oldestOptOutSince(entries, esps), at));
  }
  const deadCounts = await Promise.all(
    esps.map((esp) => countDeadLetters(ctx.models, esp)),
  );
  for (const [i, esp] of esps.entries()) m.deadLetters.set({ esp }, deadCounts[i]!);
}

async function collectBulkModes(ctx: AppContext, esps: readonly string[], bulkMode: Instruments['bulkMode']): Promise<void> {
  const modes = await bulkModels(ctx.models.contacts.db).modes.find({ _id: { $in: [...esps] } }).lean();
  const on = new Map(modes.map((mode) => [mode._id, mode.on]));
  for (const esp of esps) bulkMode.set({ esp }, on.get(esp) === true ? 1 : 0);
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const cacheMs = options.cacheMs ?? 2_000;
  const now = options.now ?? (() => new Date());
  const registry = new Registry();
  const m = defineInstruments(registry);
  if (options.defaultMetrics !== false)
    collectDefaultMetrics({ register: registry });

  const pausedHere = new Map<string, boolean>();
  const pausedInRedis = new Map<string, boolean>();
  const publishPaused = (esp: string) =>
    m.espPaused.set({ esp }, pausedHere.get(esp) === true || pausedInRedis.get(esp) === true ? 1 : 0);

  async function collectPausedQueues(ctx: AppContext, esps: readonly string[]): Promise<void> {
    for (const [esp, paused] of await collectQueues(ctx, esps, m.queueJobs)) {
      pausedInRedis.set(esp, paused);
      publishPaused(esp);
    }
  }

  let lastRefresh = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;

  async function refresh(ctx: AppContext): Promise<void> {
    const esps = enabledEsps(ctx);
    const results = await Promise.allSettled([
      collectPausedQueues(ctx, esps),
      collectOutbox(ctx, esps, m, now),
      collectBulkModes(ctx, esps, m.bulkMode),
    ]);
    for (const [i, result] of results.entries()) {
      if (result.status === 'rejected') {
        // Keep serving the last values; /readyz reports the unreachable store.
        ctx.log.warn(
          { err: result.reason, source: i === 0 ? 'redis' : 'mongodb' },
          'metrics collection failed',
        );
      }
    }
  }

  return {
    registry,
    espPush: (esp, channel, outcome) => m.espPush.inc({ esp, channel, outcome }),
    eventApplied: (outcome) => m.events.inc({ outcome }),
    producerGuard: (outcome) => m.producerGuard.inc({ outcome }),
    scheduleRestored: (schedule) => m.schedulesRestored.inc({ schedule }),
    jobDuration: (queue, seconds) => {
      if (Number.isFinite(seconds) && seconds >= 0) m.jobDuration.observe({ queue }, seconds);
    },
    setDrift: (esp, type, count) => m.drift.set({ esp, type }, count),
    setBulkMode: (esp, on) => m.bulkMode.set({ esp }, on ? 1 : 0),
    bulk: (esp, outcome, contacts) => {
      m.bulks.inc({ esp, outcome });
      m.bulkContacts.inc({ esp, outcome }, contacts);
    },
    reconcileDrift: (esp, channel, kind) => m.reconcileDrift.inc({ esp, channel, kind }),
    setEspPaused: (esp, paused) => {
      pausedHere.set(esp, paused);
      publishPaused(esp);
    },
    collect(ctx) {
      if (inFlight) return inFlight;
      if (Date.now() - lastRefresh < cacheMs) return Promise.resolve();
      inFlight = refresh(ctx).finally(() => {
        lastRefresh = Date.now();
        inFlight = undefined;
      });
      return inFlight;
    },
  };
}
