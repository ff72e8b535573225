import { createHash } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { Config } from '../../config/index.js';
import { applyConsentEventJob, applyJobId } from '../../jobs/apply-consent-event.job.js';
import type { EspAdapter, EspName } from '../esp/types.js';
import type { ReconcileRunDoc } from '../persistence/reconcile-run.model.js';
import type { PageTask } from '../services/reconcile/engine.js';
import type { PushJobResult } from '../services/esp-sync/delivery.js';
import type { WireConsentEvent } from '../contracts/consent-event.js';
import { type ConsentPolicy, type ContactIdentity, createPolicy } from '../domain/index.js';
import { connectMongo } from '../persistence/connect.js';
import { detectServerTraits } from '../persistence/guarded-update.js';
import { type HeartbeatDoc, heartbeatModel } from '../persistence/heartbeat.model.js';
import { createModels, ensureIndexes, type Models } from '../persistence/models.js';
import { assertRedisReachable, createRedisConnection } from '../queues/connection.js';
import { ContactLocks } from '../queues/contact-lock.js';
import { QueueRuntime } from '../queues/runtime.js';
import { applyStoredEvents } from '../services/apply-batch.js';
import type { ApplyJobResult } from '../services/apply-event.js';
import { MicroBatcher } from '../services/micro-batcher.js';
import { type ChangesPage, consentChanges } from '../services/consent-changes.js';
import { type ContactView, contactView } from '../services/contact-view.js';
import { recordHeartbeat } from '../services/heartbeat.js';
import { type RecordResult, recordEvents } from '../services/record-events.js';
import { sweepPendingEvents } from '../services/sweep.js';
import type { Logger } from './logger.js';
import { createEspSync } from './wiring/esp-sync.js';
import { createReconciliation } from './wiring/reconcile.js';
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
  startReconciliation(
    esp: EspName,
    trigger: ReconcileRunDoc['trigger'],
  ): Promise<{ runId: string; esp: EspName }>;
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
export async function createContext(
  config: Config,
  log: Logger,
  clock: () => Date = () => new Date(),
): Promise<AppContext> {
  await assertRedisReachable(config.redis.url);
  const mongo = await connectMongo(config.mongo.uri);
  const models = createModels(mongo, await detectServerTraits(mongo, config.mongo.idReads));
  await ensureIndexes(models);
  const runtime = new QueueRuntime({ redisUrl: config.redis.url, prefix: config.redis.prefix, log });
  const heartbeats = heartbeatModel(mongo);
  const metrics = createMetrics();
  const policy = createPolicy({
    channels: [...config.consent.channels],
    maxFutureSkewMs: config.consent.maxFutureSkewMs,
  });
  const lockRedis = createRedisConnection(config.redis.url, 'worker');
  lockRedis.on('error', (err) => log.warn({ err }, 'redis lock connection error'));
  const locks = new ContactLocks(lockRedis, config.redis.prefix, config.contactLease.ttlMs, config.contactLease.maxWaitMs);
  const withContactLock = <T>(contactId: string, fn: () => Promise<T>) => locks.withLock(contactId, fn);
  const tryLockMany = (contactIds: readonly string[]) => locks.tryLockMany(contactIds);
  const inLeasedRounds = (contactIds: readonly string[], fn: (held: string[]) => Promise<void>) => locks.inLeasedRounds(contactIds, fn);
  const espSync = createEspSync({ config, log, models, runtime, metrics, clock, withContactLock, inLeasedRounds });
  const { esps, adapters, enqueuePush } = espSync;
  const connectedEsps = (): readonly string[] => esps;

  /**
   * A job whose worker died twice while holding it is failed by BullMQ ("stalled more than
   * allowable limit") although its handler never failed; its jobId would make every re-enqueue a
   * no-op, so the sweeper retries exactly those. Jobs that failed on their own errors (poison)
   * stay failed and visible.
   */
  const retryStalledApplyJobs = async (eventIds: readonly string[]) => {
    const queue = runtime.queue(applyConsentEventJob.queue);
    for (const eventId of eventIds) {
      const job = await queue.getJob(applyJobId(eventId, sha1));
      if (job && /stalled more than allowable limit/.test(job.failedReason ?? '') && (await job.getState()) === 'failed') {
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      }
    }
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

  // FAULT_EXIT_AFTER_APPLY_EVERY (reliability tests; refused in production): die without any
  // cleanup after every Nth state-changing apply, between its MongoDB write and its push enqueue.
  let appliesUntilFault = config.faults.exitAfterApplyEvery;
  const faultAfterApply = async (eventId: string) => {
    if (appliesUntilFault === 0 || --appliesUntilFault > 0) return;
    // stderr is synchronous on files and pipes (pino's stdout stream is not): the line is out before the process dies
    process.stderr.write(`consent-sync: fault injection FAULT_EXIT_AFTER_APPLY_EVERY: SIGKILL after applying event ${eventId}, before its ESP pushes are queued\n`);
    process.kill(process.pid, 'SIGKILL');
    await new Promise(() => {}); // this apply never reaches its push enqueue
  };

  const applyDeps = {
    models,
    policy,
    connectedEsps,
    now: clock,
    withContactLock,
    tryLockMany,
  };
  const applyBatcher = new MicroBatcher<string, ApplyJobResult>(
    (eventIds) => applyStoredEvents(eventIds, applyDeps),
    config.applyBatch.size,
    config.applyBatch.lingerMs,
  );

  // Reconciliation ingests ESP-side opt-outs through the same recording path as the API.
  const recordViaServices = (events: readonly WireConsentEvent[]) => services.recordEvents(events);
  const reconciliation = await createReconciliation({
    config,
    log,
    mongo,
    models,
    runtime,
    clock,
    recordEvents: recordViaServices,
    repush: espSync.repush,
  });
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
            log.warn(
              { err, events: ids.length },
              'events stored but not enqueued; the sweeper will enqueue them',
            ),
        },
        fieldPrefix,
      ),
    applyEvent: async (eventId) => {
      const result = await applyBatcher.submit(eventId);
      metrics.eventApplied(result.outcome);
      if (result.stateChanged && result.contactId) {
        await faultAfterApply(eventId);
        // A crash before this line is covered by the outbox sweeper: the entries are already stored.
        await Promise.all(esps.map((esp) => enqueuePush(esp, [result.contactId!])));
      }
      return result;
    },
    pushContact: espSync.pushContact,
    enqueuePush,
    sweepOutbox: espSync.sweepOutbox,
    replayDeadLetters: espSync.replayDeadLetters,
    pauseEsp: espSync.pauseEsp,
    resumeEsp: espSync.resumeEsp,
    repush: espSync.repush,
    ...reconciliation,
    sweepPendingEvents: () =>
      sweepPendingEvents({
        models,
        delayMs: config.sweeper.delayMs,
        now: clock,
        enqueueApply: async (eventIds) => {
          await retryStalledApplyJobs(eventIds);
          await enqueueApply(eventIds);
        },
      }),
    contactView: (identity) => contactView(models, identity),
    consentChanges: (opts) => consentChanges(models, opts),
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
