import { createHash } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { Config } from '../../config/index.js';
import { applyConsentEventJob, applyJobId } from '../../jobs/apply-consent-event.job.js';
import { ESP_PUSH_JOB } from '../../jobs/esp-push.job.js';
import { createEspAdapters } from '../esp/registry.js';
import { ESP_NAMES, type EspAdapter, type EspName } from '../esp/types.js';
import { espQueueName, QUEUE_RECONCILE } from '../queues/names.js';
import { createEspReadBacks } from '../esp/readback.js';
import { loadContact } from '../persistence/contacts.repository.js';
import { guardedUpdateById } from '../persistence/guarded-update.js';
import { type ReconcileRunDoc, reconcileRunModel } from '../persistence/reconcile-run.model.js';
import { createRun, failRun, type PageTask, type ReconcileDeps, runPage } from '../services/reconcile/engine.js';
import { PushBatcher } from '../services/esp-sync/batcher.js';
import { type PushJobResult, pushContact, replayDeadLetters, stalePendingContacts } from '../services/esp-sync/delivery.js';
import type { WireConsentEvent } from '../contracts/consent-event.js';
import { type ConsentPolicy, type ContactIdentity, createPolicy } from '../domain/index.js';
import { connectMongo } from '../persistence/connect.js';
import { supportsAtomicGuards } from '../persistence/guarded-update.js';
import { type HeartbeatDoc, heartbeatModel } from '../persistence/heartbeat.model.js';
import { createModels, ensureIndexes, type Models } from '../persistence/models.js';
import { assertRedisReachable, createRedisConnection } from '../queues/connection.js';
import { ContactLocks } from '../queues/contact-lock.js';
import { QueueRuntime } from '../queues/runtime.js';
import { type ApplyJobResult, applyStoredEvent } from '../services/apply-event.js';
import { type ChangesPage, consentChanges } from '../services/consent-changes.js';
import { type ContactView, contactView } from '../services/contact-view.js';
import { recordHeartbeat } from '../services/heartbeat.js';
import { type RecordResult, recordEvents } from '../services/record-events.js';
import { sweepPendingEvents } from '../services/sweep.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';

export interface Services {
  recordHeartbeat(source: string): Promise<HeartbeatDoc>;
  recordEvents(events: readonly WireConsentEvent[], fieldPrefix?: string): Promise<RecordResult[]>;
  enqueueApply(eventIds: readonly string[]): Promise<void>;
  applyEvent(eventId: string): Promise<ApplyJobResult>;
  sweepPendingEvents(): Promise<{ requeued: number }>;
  contactView(identity: ContactIdentity): Promise<ContactView | null>;
  consentChanges(opts: { since: Date; cursor?: string; limit: number }): Promise<ChangesPage>;
  pushContact(esp: EspName, contactId: string): Promise<PushJobResult>;
  enqueuePush(esp: EspName, contactIds: readonly string[]): Promise<void>;
  sweepOutbox(): Promise<{ requeued: Record<string, number> }>;
  replayDeadLetters(esps?: readonly EspName[]): Promise<Record<string, string[]>>;
  pauseEsp(esp: EspName, reason: string): Promise<void>;
  resumeEsp(esp: EspName): Promise<void>;
  /** Ensures an outbox entry for (contact, ESP) and queues its push: reconciliation's repair. */
  repush(esp: EspName, contactId: string): Promise<void>;
  startReconciliation(esp: EspName, trigger: ReconcileRunDoc['trigger']): Promise<{ runId: string; esp: EspName }>;
  reconcilePage(task: PageTask): Promise<{ next: PageTask | undefined }>;
  /** Runs a whole reconciliation in this process (the CLI); `onPage` reports progress. */
  reconcileInline(esp: EspName, onPage: (run: ReconcileRunDoc) => void): Promise<ReconcileRunDoc>;
  reconciliationRuns: import('mongoose').Model<ReconcileRunDoc>;
}

export interface AppContext {
  config: Config;
  log: Logger;
  mongo: Connection;
  models: Models;
  policy: ConsentPolicy;
  /** ESPs with credentials: each gets a queue, an adapter and outbox entries. */
  esps: readonly EspName[];
  adapters: Partial<Record<EspName, EspAdapter>>;
  runtime: QueueRuntime;
  services: Services;
  /** This process's metrics: gauges read shared state; counters count this process's work. */
  metrics: Metrics;
  close(): Promise<void>;
}

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

/**
 * Connects to Redis and MongoDB (failing fast, naming the one that is down) and wires the
 * services every process shares.
 */
export async function createContext(config: Config, log: Logger, clock: () => Date = () => new Date()): Promise<AppContext> {
  await assertRedisReachable(config.redis.url);
  const mongo = await connectMongo(config.mongo.uri);
  const models = createModels(mongo, await supportsAtomicGuards(mongo));
  await ensureIndexes(models);
  const runtime = new QueueRuntime({ redisUrl: config.redis.url, prefix: config.redis.prefix, log });
  const heartbeats = heartbeatModel(mongo);
  const metrics = createMetrics();
  const policy = createPolicy({ channels: [...config.consent.channels], maxFutureSkewMs: config.consent.maxFutureSkewMs });
  const lockRedis = createRedisConnection(config.redis.url, 'worker');
  lockRedis.on('error', (err) => log.warn({ err }, 'redis lock connection error'));
  const locks = new ContactLocks(lockRedis, config.redis.prefix);
  const withContactLock = <T>(contactId: string, fn: () => Promise<T>) => locks.withLock(contactId, fn);
  const adapters = createEspAdapters(config.esps, log.child({ component: 'esp' }));
  const esps = ESP_NAMES.filter((esp) => adapters[esp] !== undefined);
  const connectedEsps = (): readonly string[] => esps;
  const batchers: Partial<Record<EspName, PushBatcher>> = {};
  for (const esp of esps) batchers[esp] = new PushBatcher(adapters[esp]!, config.espBatchLingerMs);

  const enqueuePush = async (esp: EspName, contactIds: readonly string[]) => {
    if (contactIds.length === 0) return;
    const settings = config.esps[esp];
    await runtime.queue(espQueueName(esp)).addBulk(
      contactIds.map((contactId) => ({
        name: ESP_PUSH_JOB,
        data: { contactId },
        opts: {
          attempts: settings.attempts,
          backoff: { type: 'exponential', delay: config.espBackoffMs, jitter: 0.5 },
          // One job per (contact, ESP) at a time; a change during a push queues exactly one more.
          deduplication: { id: contactId, keepLastIfActive: true },
          removeOnComplete: { age: 3_600, count: 5_000 },
          removeOnFail: { age: 14 * 24 * 3_600 },
        },
      })),
    );
  };
  const pauseEsp = async (esp: EspName, reason: string) => {
    await runtime.queue(espQueueName(esp)).pause();
    metrics.setEspPaused(esp, true);
    log.error({ esp, reason, alert: 'esp_auth_failed' }, `${esp} rejected our credentials; its queue is paused and pending changes are kept`);
  };

  const enqueueApply = async (eventIds: readonly string[]) => {
    if (eventIds.length === 0) return;
    await runtime.queue(applyConsentEventJob.queue).addBulk(
      eventIds.map((eventId) => ({
        name: applyConsentEventJob.name,
        data: applyConsentEventJob.schema.parse({ eventId }),
        opts: { ...applyConsentEventJob.options, jobId: applyJobId(eventId, sha1) },
      })),
    );
  };

  const reconcileRuns = reconcileRunModel(mongo);
  await reconcileRuns.createIndexes();
  const readBacks = createEspReadBacks(config.esps, log.child({ component: 'readback' }));
  const repush = async (esp: EspName, contactId: string) => {
    await withContactLock(contactId, async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const contact = await loadContact(models, contactId);
        if (!contact || contact.outbox[esp]) return;
        const optOut =
          contact.effective.tracking.state === 'opted_out' ||
          Object.values(contact.effective.marketing).some((d) => d.state === 'opted_out');
        const set = { [`outbox.${esp}`]: { version: contact.version, since: clock(), optOut }, [`sync.${esp}.status`]: 'pending' };
        if (await guardedUpdateById(models.contacts, contactId, { rev: contact.rev }, { $set: set, $inc: { rev: 1 } }, models.atomicGuards)) return;
      }
    });
    await enqueuePush(esp, [contactId]);
  };
  const enqueueReconcilePage = async (task: PageTask) => {
    await runtime.queue(QUEUE_RECONCILE).add('reconcile-page', task, {
      jobId: `recon-${task.runId}-p${task.page}`,
      attempts: 8,
      backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 },
      removeOnComplete: { count: 1_000 },
    });
  };
  let reconcileDeps: ReconcileDeps;
  const services: Services = {
    recordHeartbeat: (source) => recordHeartbeat(heartbeats, source, clock()),
    enqueueApply,
    recordEvents: (events, fieldPrefix) =>
      recordEvents(
        events,
        {
          models,
          policy,
          now: clock,
          enqueueApply,
          onEnqueueFailure: (err, ids) =>
            log.warn({ err, events: ids.length }, 'events stored but not enqueued; the sweeper will enqueue them'),
        },
        fieldPrefix,
      ),
    applyEvent: async (eventId) => {
      const result = await applyStoredEvent(eventId, { models, policy, connectedEsps, now: clock, withContactLock });
      metrics.eventApplied(result.outcome);
      if (result.stateChanged && result.contactId) {
        // A crash before this line is covered by the outbox sweeper: the entries are already stored.
        await Promise.all(esps.map((esp) => enqueuePush(esp, [result.contactId!])));
      }
      return result;
    },
    pushContact: (esp, contactId) =>
      pushContact(esp, contactId, {
        models,
        batchers,
        now: clock,
        log,
        enqueuePush,
        pauseEsp,
        withContactLock,
        onOutcome: (esp, outcome) => metrics.espPush(esp, outcome),
      }),
    enqueuePush,
    sweepOutbox: async () => {
      const cutoff = new Date(clock().getTime() - config.sweeper.delayMs);
      const requeued: Record<string, number> = {};
      for (const esp of esps) {
        const ids = await stalePendingContacts(models, esp, cutoff, 1_000);
        await enqueuePush(esp, ids);
        requeued[esp] = ids.length;
      }
      return { requeued };
    },
    replayDeadLetters: async (only) => {
      const targets = only ?? esps;
      const replayed = await replayDeadLetters(models, targets, clock(), withContactLock);
      for (const [esp, ids] of Object.entries(replayed)) await enqueuePush(esp as EspName, ids);
      return replayed;
    },
    pauseEsp,
    repush,
    reconciliationRuns: reconcileRuns,
    startReconciliation: async (esp, trigger) => {
      const task = await createRun(esp, trigger, reconcileDeps);
      await enqueueReconcilePage(task);
      return { runId: task.runId, esp };
    },
    reconcilePage: async (task) => {
      try {
        const next = await runPage(task, reconcileDeps);
        if (next) await enqueueReconcilePage(next);
        return { next };
      } catch (err) {
        // A permanent read-back failure ends the run visibly; other errors retry the page job.
        if ((err as { kind?: string }).kind === 'permanent') await failRun(task.runId, (err as Error).message, reconcileDeps);
        throw err;
      }
    },
    reconcileInline: async (esp, onPage) => {
      let task: PageTask | undefined = await createRun(esp, 'cli', reconcileDeps);
      const runId = task.runId;
      try {
        while (task) {
          task = await runPage(task, reconcileDeps);
          const run = await reconcileRuns.findById(runId).lean();
          if (run) onPage(run);
        }
      } catch (err) {
        await failRun(runId, (err as Error).message, reconcileDeps);
        throw err;
      }
      return (await reconcileRuns.findById(runId).lean())!;
    },
    resumeEsp: async (esp) => {
      const queue = runtime.queue(espQueueName(esp));
      await queue.removeRateLimitKey();
      await queue.resume();
      metrics.setEspPaused(esp, false);
      log.info({ esp }, `${esp} queue resumed`);
    },
    sweepPendingEvents: () => sweepPendingEvents({ models, delayMs: config.sweeper.delayMs, now: clock, enqueueApply }),
    contactView: (identity) => contactView(models, identity),
    consentChanges: (opts) => consentChanges(models, opts),
  };
  reconcileDeps = {
    models,
    runs: reconcileRuns,
    readBacks,
    recordEvents: (events) => services.recordEvents(events),
    repush,
    now: clock,
    pageSize: config.reconcile.pageSize,
    log: log.child({ component: 'reconcile' }),
  };
  return {
    config,
    log,
    mongo,
    models,
    policy,
    esps,
    adapters,
    runtime,
    services,
    metrics,
    async close() {
      await runtime.close(config.shutdownGraceMs);
      lockRedis.disconnect();
      await mongo.close();
    },
  };
}
