import type { Connection } from 'mongoose';
import type { Config } from '../../config/index.js';
import type { EspAdapter, EspName } from '../esp/types.js';
import type { ReconcileRunDoc } from '../persistence/reconcile-run.model.js';
import type { PageTask } from '../reconcile/engine.js';
import type { PushBatchResult } from '../delivery/delivery.js';
import type { WireConsentEvent } from '../contracts/consent-event.js';
import { type ConsentPolicy, type ContactIdentity, createPolicy, type Lane } from '../domain/index.js';
import { connectMongo } from '../persistence/connect.js';
import { type HeartbeatDoc, heartbeatModel } from '../persistence/heartbeat.model.js';
import { createModels, ensureIndexes, type Models } from '../persistence/models.js';
import { assertRedisReachable } from '../queues/connection.js';
import { JobProducer, QueueRuntime } from '../queues/runtime.js';
import { type ApplyEventsResult, createApplier } from '../apply/apply-events.js';
import { type ChangesPage, type ConsentChange, consentChanges, consentHistory } from '../apply/consent-changes.js';
import { type ContactView, contactView, contactViewById } from '../operate/contact-view.js';
import { type DeadLetterView, deadLettersOfContact, type EspStatusView, espStatuses, listDeadLetters } from '../operate/dead-letters.js';
import { espPauseModel } from '../persistence/esp-pause.model.js';
import { recordHeartbeat } from '../operate/heartbeat.js';
import { type RecordResult, recordEvents } from '../ingest/record-events.js';
import { sweepPendingEvents } from '../delivery/sweep.js';
import type { Logger } from '../lib/logger.js';
import { createApplyEnqueuers } from '../queues/apply-enqueue.js';
import { createEspSync } from './wiring/esp-sync.js';
import { createReconciliation } from './wiring/reconcile.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';

export interface Services {
  recordHeartbeat(source: string): Promise<HeartbeatDoc>;
  recordEvents(events: readonly WireConsentEvent[], fieldPrefix?: string): Promise<RecordResult[]>;
  enqueueApply(events: readonly { eventId: string; lane: Lane }[]): Promise<void>;
  /** Applies stored events (one apply job, of one lane) and queues the pushes their changes need. */
  applyEvents(eventIds: readonly string[], lane: Lane): Promise<ApplyEventsResult>;
  sweepPendingEvents(): Promise<{ requeued: number }>;
  contactView(identity: ContactIdentity): Promise<ContactView | null>;
  /** The same view by contact id (links carry the id, never an email or phone). */
  contactViewById(contactId: string): Promise<ContactView | null>;
  /** A contact's audit records (or all applied since `since`), oldest first, streamed from one cursor. */
  consentHistory(opts: { contactId?: string; since?: Date }): AsyncGenerator<ConsentChange>;
  /** The contact a stored event was applied to (an apply job carries event ids only). */
  eventContact(eventId: string): Promise<{ eventId: string; status: string; contactId?: string } | null>;
  consentChanges(opts: { since: Date; cursor?: string; limit: number }): Promise<ChangesPage>;
  /** Pushes one job's contacts to one ESP (see src/delivery/delivery.ts). */
  pushContacts(esp: EspName, lane: Lane, contactIds: readonly string[]): Promise<PushBatchResult>;
  enqueuePush(esp: EspName, lane: Lane, contactIds: readonly string[], delayMs?: number): Promise<void>;
  sweepOutbox(): Promise<{ requeued: Record<string, number>; bulk?: Record<string, unknown> }>;
  /** One bulk-mode check of every connected ESP (also part of every outbox sweep). */
  bulkTick(): Promise<Record<string, unknown>>;
  replayDeadLetters(esps?: readonly EspName[]): Promise<Record<string, string[]>>;
  /** Requeues dead letters through the outbox: all of the ESPs' (default every connected ESP), or only these contacts'. */
  requeueDeadLetters(opts?: { esps?: readonly EspName[]; contactIds?: readonly string[] }): Promise<Record<string, string[]>>;
  deadLetters(opts: { esp?: EspName; limit: number }): Promise<DeadLetterView[]>;
  deadLettersOfContact(contactId: string): Promise<DeadLetterView[] | null>;
  /** Each connected ESP: paused (why, how to resume) and its dead-letter count. */
  espStatuses(): Promise<EspStatusView[]>;
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
  /** The only way jobs are added (catalog schemas and options). */
  producer: JobProducer<unknown>;
  services: Services;
  /** This process's metrics: gauges read shared state; counters count this process's work. */
  metrics: Metrics;
  close(): Promise<void>;
}

/** Redis and MongoDB, failing fast and naming the one that is down; the queue runtime and its producer. */
async function connectStores(config: Config, log: Logger) {
  await assertRedisReachable({ url: config.redis.url, clusterNodes: config.redis.clusterNodes });
  const mongo = await connectMongo(config.mongo.uri);
  const models = createModels(mongo);
  await ensureIndexes(models, config.espModules.map((m) => m.name));
  const runtime = new QueueRuntime({ redisUrl: config.redis.url, clusterNodes: config.redis.clusterNodes, prefix: config.redis.prefix, log });
  await runtime.ready();
  const producer = new JobProducer<unknown>(runtime, config);
  return { mongo, models, runtime, producer };
}

interface ServiceDeps {
  config: Config;
  log: Logger;
  mongo: Connection;
  models: Models;
  pauses: ReturnType<typeof espPauseModel>;
  policy: ConsentPolicy;
  clock: () => Date;
  esps: readonly EspName[];
  espSync: ReturnType<typeof createEspSync>;
  applier: ReturnType<typeof createApplier>;
  reconciliation: Awaited<ReturnType<typeof createReconciliation>>;
  enqueueApply: (events: readonly { eventId: string; lane: Lane }[]) => Promise<void>;
  enqueueSwept: (events: readonly { eventId: string; lane: Lane }[]) => Promise<void>;
}

/** The services every process shares, each one a stage's function given its dependencies. */
function buildServices(deps: ServiceDeps): Services {
  const { config, log, mongo, models, pauses, policy, clock, esps, espSync, applier, reconciliation, enqueueApply } = deps;
  const heartbeats = heartbeatModel(mongo);
  return {
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
          writeConcern: config.mongo.eventWriteConcern,
          onEnqueueFailure: (err, ids) =>
            log.warn(
              { err, events: ids.length },
              'events stored but not enqueued; the sweeper will enqueue them',
            ),
        },
        fieldPrefix,
      ),
    applyEvents: applier.applyEvents,
    pushContacts: espSync.pushContacts,
    enqueuePush: espSync.enqueuePush,
    sweepOutbox: espSync.sweepOutbox,
    replayDeadLetters: (only) => espSync.requeueDeadLetters(only ? { esps: only } : {}),
    requeueDeadLetters: espSync.requeueDeadLetters,
    deadLetters: ({ esp, limit }) => listDeadLetters(models, esp ? [esp] : esps, limit),
    deadLettersOfContact: (contactId) => deadLettersOfContact(models, contactId),
    espStatuses: () => espStatuses({ models, pauses, isPaused: espSync.isEspPaused }, esps),
    bulkTick: espSync.bulkTick,
    pauseEsp: espSync.pauseEsp,
    resumeEsp: espSync.resumeEsp,
    repush: espSync.repush,
    ...reconciliation,
    sweepPendingEvents: () =>
      sweepPendingEvents({
        models,
        delayMs: config.sweeper.delayMs,
        now: clock,
        policy,
        enqueueApply: deps.enqueueSwept,
      }),
    contactView: (identity) => contactView(models, identity),
    contactViewById: (contactId) => contactViewById(models, contactId),
    consentHistory: (opts) => consentHistory(models, opts),
    eventContact: async (eventId) => {
      const event = await models.events.findById(eventId, { _id: 1, status: 1, contactId: 1 }).lean();
      return event ? { eventId: event._id, status: event.status, ...(event.contactId ? { contactId: event.contactId } : {}) } : null;
    },
    consentChanges: (opts) => consentChanges(models, opts),
  };
}

/**
 * Connects to Redis and MongoDB (failing fast, naming the one that is down) and wires the
 * services every process shares.
 */
export async function createContext(
  config: Config,
  log: Logger,
  clock: () => Date = () => new Date(),
): Promise<AppContext> {
  const { mongo, models, runtime, producer } = await connectStores(config, log);
  const metrics = createMetrics();
  const policy = createPolicy({
    channels: [...config.consent.channels],
    maxFutureSkewMs: config.consent.maxFutureSkewMs,
  });
  const pauses = espPauseModel(mongo);
  const espSync = createEspSync({ config, log, models, pauses, runtime, producer, metrics, clock });
  const { esps, adapters, enqueuePush } = espSync;
  const { enqueueApply, enqueueSwept } = createApplyEnqueuers(runtime, producer);

  const applier = createApplier({
    models,
    policy,
    esps,
    now: clock,
    log,
    metrics,
    batchSize: config.applyBatch.size,
    lingerMs: config.applyBatch.lingerMs,
    exitAfterApplyEvery: config.faults.exitAfterApplyEvery,
    enqueuePush,
  });

  // Reconciliation ingests ESP-side opt-outs through the same recording path as the API.
  const recordViaServices = (events: readonly WireConsentEvent[]) => services.recordEvents(events);
  const reconciliation = await createReconciliation({
    config,
    log,
    mongo,
    models,
    producer,
    clock,
    recordEvents: recordViaServices,
    repush: espSync.repush,
    onDrift: (esp, channel, kind) => metrics.reconcileDrift(esp, channel, kind),
  });
  const services = buildServices({
    config,
    log,
    mongo,
    models,
    pauses,
    policy,
    clock,
    esps,
    espSync,
    applier,
    reconciliation,
    enqueueApply,
    enqueueSwept,
  });
  return {
    config,
    log,
    mongo,
    models,
    policy,
    esps,
    adapters,
    runtime,
    producer,
    services,
    metrics,
    async close() {
      await runtime.close(config.shutdownGraceMs);
      await mongo.close();
    },
  };
}
