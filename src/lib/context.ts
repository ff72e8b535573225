import { createHash } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { Config } from '../../config/index.js';
import { applyConsentEventJob, applyJobId } from '../../jobs/apply-consent-event.job.js';
import type { WireConsentEvent } from '../contracts/consent-event.js';
import { type ConsentPolicy, type ContactIdentity, createPolicy } from '../domain/index.js';
import { connectMongo } from '../persistence/connect.js';
import { type HeartbeatDoc, heartbeatModel } from '../persistence/heartbeat.model.js';
import { createModels, ensureIndexes, type Models } from '../persistence/models.js';
import { assertRedisReachable } from '../queues/connection.js';
import { QueueRuntime } from '../queues/runtime.js';
import { type ApplyJobResult, applyStoredEvent } from '../services/apply-event.js';
import { type ChangesPage, consentChanges } from '../services/consent-changes.js';
import { type ContactView, contactView } from '../services/contact-view.js';
import { recordHeartbeat } from '../services/heartbeat.js';
import { type RecordResult, recordEvents } from '../services/record-events.js';
import { sweepPendingEvents } from '../services/sweep.js';
import type { Logger } from './logger.js';

export interface Services {
  recordHeartbeat(source: string): Promise<HeartbeatDoc>;
  recordEvents(events: readonly WireConsentEvent[], fieldPrefix?: string): Promise<RecordResult[]>;
  enqueueApply(eventIds: readonly string[]): Promise<void>;
  applyEvent(eventId: string): Promise<ApplyJobResult>;
  sweepPendingEvents(): Promise<{ requeued: number }>;
  contactView(identity: ContactIdentity): Promise<ContactView | null>;
  consentChanges(opts: { since: Date; cursor?: string; limit: number }): Promise<ChangesPage>;
}

export interface AppContext {
  config: Config;
  log: Logger;
  mongo: Connection;
  models: Models;
  policy: ConsentPolicy;
  runtime: QueueRuntime;
  services: Services;
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
  const models = createModels(mongo);
  await ensureIndexes(models);
  const runtime = new QueueRuntime({ redisUrl: config.redis.url, prefix: config.redis.prefix, log });
  const heartbeats = heartbeatModel(mongo);
  const policy = createPolicy({ channels: [...config.consent.channels], maxFutureSkewMs: config.consent.maxFutureSkewMs });
  const connectedEsps = (): readonly string[] => [];

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
    applyEvent: (eventId) => applyStoredEvent(eventId, { models, policy, connectedEsps, now: clock }),
    sweepPendingEvents: () => sweepPendingEvents({ models, delayMs: config.sweeper.delayMs, now: clock, enqueueApply }),
    contactView: (identity) => contactView(models, identity),
    consentChanges: (opts) => consentChanges(models, opts),
  };
  return {
    config,
    log,
    mongo,
    models,
    policy,
    runtime,
    services,
    async close() {
      await runtime.close(config.shutdownGraceMs);
      await mongo.close();
    },
  };
}
