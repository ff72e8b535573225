import type { Config } from '../../../config/index.js';
import { espPushJobOf, pushScheduling } from '../../../jobs/esp-push.job.js';
import { BULK_LANE, type Lane, laneOfRepair, laneThreeContactsPerSecond, mergeLane } from '../../domain/index.js';
import { createEspAdapters } from '../../esp/registry.js';
import { sharedPacers } from '../../esp/kit/shared-pacer.js';
import { ESP_NAMES, type EspAdapter, type EspName } from '../../esp/types.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Model } from 'mongoose';
import { deadLetterFilter } from '../../persistence/dead-letters.js';
import type { EspPauseDoc } from '../../persistence/esp-pause.model.js';
import { bulkModels } from '../../persistence/bulk.model.js';
import type { ContactDoc, Models } from '../../persistence/models.js';
import { laneOfEntry, pendingFields } from '../../persistence/outbox.js';
import { espQueueNames } from '../../queues/names.js';
import type { JobProducer, QueueRuntime } from '../../queues/runtime.js';
import { type BulkTickResult, bulkTick } from '../../delivery/bulk.js';
import { type DeliveryDeps, pushBatch, stalePendingContacts } from '../../delivery/delivery.js';
import type { Logger } from '../../lib/logger.js';

export interface EspSyncWiring {
  config: Config;
  log: Logger;
  models: Models;
  /** Why each paused ESP was paused (services/dead-letters.ts shows it to operators). */
  pauses: Model<EspPauseDoc>;
  runtime: QueueRuntime;
  producer: JobProducer<unknown>;
  metrics: Metrics;
  clock: () => Date;
}

/** A push job should take about this long at the ESP's budget, so a waiting lane 1 job soon gets a slot. */
const PUSH_JOB_TARGET_SECONDS = 2;

/**
 * Contacts per push job for one ESP: as many batch requests as its rate budget allows in about
 * PUSH_JOB_TARGET_SECONDS. Big enough that one job serves a whole apply batch at an ESP with
 * batch endpoints, small enough that a lane 1 job never waits long behind an import's jobs.
 */
export function contactsPerPushJob(config: Config, esp: EspName, adapter: Pick<EspAdapter, 'maxBatch' | 'contactsPerRequest'>): number {
  const settings = config.esps[esp];
  const requestsPerSecond = (settings.rateLimit.max * 1_000) / settings.rateLimit.durationMs;
  const requests = Math.max(1, Math.floor(requestsPerSecond * PUSH_JOB_TARGET_SECONDS));
  const perRequest = Math.max(1, Math.min(adapter.maxBatch, adapter.contactsPerRequest ?? adapter.maxBatch));
  return Math.min(config.push.maxContactsPerJob, perRequest * requests);
}

/** The ESP side of a process: adapters of the connected ESPs, push delivery and queue operations. */
export function createEspSync(w: EspSyncWiring) {
  const { config, log, models, pauses, runtime, producer, metrics, clock } = w;
  // Every worker process draws on one rate window per ESP, kept in Redis: the ESP's documented
  // limit holds whatever the number of workers.
  const adapters: Partial<Record<EspName, EspAdapter>> = createEspAdapters(
    config.esps,
    log.child({ component: 'esp' }),
    sharedPacers(runtime.producer, config.redis.prefix),
  );
  const esps = ESP_NAMES.filter((esp) => adapters[esp] !== undefined);

  const addPushJobs = async (esp: EspName, lane: Lane, delayMs: number, contactIds: readonly string[]) => {
    const size = contactsPerPushJob(config, esp, adapters[esp]!);
    const jobs: { payload: unknown; scheduling: ReturnType<typeof pushScheduling> }[] = [];
    for (let i = 0; i < contactIds.length; i += size) {
      jobs.push({ payload: { contactIds: contactIds.slice(i, i + size), lane }, scheduling: pushScheduling(lane, delayMs) });
    }
    await producer.addMany(espPushJobOf(esp, lane), jobs);
  };

  // Pushes asked for in the same turn of the event loop (every apply job that settled in one
  // batch) share one add per (ESP, lane): one round trip and full jobs instead of one per caller.
  const gathering = new Map<string, { ids: Set<string>; added: Promise<void> }>();
  const enqueuePush = (esp: EspName, lane: Lane, contactIds: readonly string[], delayMs = 0): Promise<void> => {
    if (contactIds.length === 0) return Promise.resolve();
    const key = `${esp}\u0000${lane}\u0000${delayMs}`;
    let pending = gathering.get(key);
    if (!pending) {
      const ids = new Set<string>();
      const added = new Promise<void>((resolve, reject) =>
        setImmediate(() => {
          gathering.delete(key);
          addPushJobs(esp, lane, delayMs, [...ids]).then(resolve, reject);
        }),
      );
      pending = { ids, added };
      gathering.set(key, pending);
    }
    for (const id of contactIds) pending.ids.add(id);
    return pending.added;
  };

  const isEspPaused = async (esp: EspName) => {
    const flags = await Promise.all(espQueueNames(esp).map((name) => runtime.queue(name).isPaused()));
    return flags.some(Boolean);
  };

  const pauseEsp = async (esp: EspName, reason: string) => {
    const wasPaused = await isEspPaused(esp);
    await Promise.all(espQueueNames(esp).map((name) => runtime.queue(name).pause()));
    // Within one pause the first reason stays (later pushes fail the same way and add nothing);
    // a new pause replaces what an earlier one left, e.g. after a resume from Bull Board.
    const fields = { reason, at: clock() };
    await pauses
      .updateOne({ _id: esp }, wasPaused ? { $setOnInsert: fields } : { $set: fields }, { upsert: true })
      .catch((err) => log.warn({ err, esp }, 'pause reason not recorded; the queue is paused all the same'));
    metrics.setEspPaused(esp, true);
    log.error({ esp, reason, alert: 'esp_auth_failed' }, `${esp} rejected our credentials; its queue is paused and pending changes are kept`);
  };

  const resumeEsp = async (esp: EspName) => {
    for (const name of espQueueNames(esp)) {
      const queue = runtime.queue(name);
      await queue.removeRateLimitKey();
      await queue.resume();
    }
    metrics.setEspPaused(esp, false);
    await pauses.deleteOne({ _id: esp });
    log.info({ esp }, `${esp} queue resumed`);
  };


  /**
   * Marks (contact, ESP) pending at the contact's current version and queues its push:
   * reconciliation's repair and the dead-letter replay. A repair that carries an opt-out goes in
   * lane 2, not with imports: it is a person's opt-out the ESP lost.
   */
  const markPending = async (esp: EspName, contactIds: readonly string[], extraFilter: Record<string, unknown> = {}, extraUnset: Record<string, ''> = {}) => {
    if (contactIds.length === 0) return [];
    const docs = await models.contacts
      .find({ _id: { $in: [...contactIds] } }, { _id: 1, version: 1, effective: 1, [`outbox.${esp}`]: 1 })
      .lean<Pick<ContactDoc, '_id' | 'version' | 'effective' | 'outbox'>[]>();
    const now = clock();
    const marked: { contactId: string; lane: Lane }[] = [];
    const ops = docs.map((doc) => {
      const repairLane = laneOfRepair(doc.effective);
      const lane = mergeLane(laneOfEntry(doc.outbox?.[esp]), repairLane);
      const optOut = repairLane !== BULK_LANE;
      const fields = pendingFields(esp, { version: doc.version ?? 0, since: doc.outbox?.[esp]?.since ?? now, optOut, lane });
      marked.push({ contactId: doc._id, lane });
      return {
        updateOne: {
          // The version read stays the guard: a change in between marks the contact itself.
          filter: { _id: doc._id, version: doc.version ?? 0, ...extraFilter },
          update: { ...fields, ...(Object.keys(extraUnset).length > 0 ? { $unset: extraUnset } : {}) },
        },
      };
    });
    if (ops.length > 0) await models.contacts.bulkWrite(ops as never, { ordered: false });
    for (const lane of [1, 2, 3] as Lane[]) {
      const ids = marked.filter((m) => m.lane === lane).map((m) => m.contactId);
      await enqueuePush(esp, lane, ids);
    }
    return marked.map((m) => m.contactId);
  };

  const repush = async (esp: EspName, contactId: string) => {
    await markPending(esp, [contactId]);
  };

  const bulkStore = bulkModels(models.contacts.db);
  // autoIndex is off (persistence/connect.ts): created at the first check, as reconciliation's are at start-up.
  let bulkIndexes: Promise<unknown> | undefined;
  /** Bulk mode of every connected ESP (services/esp-sync/bulk.ts); one ESP's failure never stops another's. */
  const bulkTicks = async (): Promise<Record<string, BulkTickResult | { error: string }>> => {
    bulkIndexes ??= bulkStore.bulks.createIndexes().catch((err: unknown) => {
      // The collection is small (a few bulks a day per ESP): checks go on without, and retry it.
      log.warn({ err }, 'esp_bulks indexes not created; tried again at the next check');
      bulkIndexes = undefined;
    });
    await bulkIndexes;
    const results: Record<string, BulkTickResult | { error: string }> = {};
    for (const esp of esps) {
      const settings = config.esps[esp];
      const adapter = adapters[esp]!;
      try {
        results[esp] = await bulkTick(esp, {
          models,
          bulkModels: bulkStore,
          adapter,
          afterSeconds: ('bulk' in settings ? settings.bulk.afterSeconds : undefined) ?? config.bulk.afterSeconds,
          maxPendingMs: config.bulk.maxPendingMs,
          contactsPerSecond: laneThreeContactsPerSecond({
            calls: settings.rateLimit.max,
            perMs: settings.rateLimit.durationMs,
            reservePercent: settings.firstLaneReservePercent ?? 0,
            contactsPerCall: Math.min(adapter.maxBatch, adapter.contactsPerRequest ?? adapter.maxBatch),
          }),
          now: clock,
          log,
          enqueuePush,
          onMode: (e, on) => metrics.setBulkMode(e, on),
          onBulk: (e, outcome, contacts) => metrics.bulk(e, outcome, contacts),
          onOutcome: (e, outcome, _lane, channels) => countOutcome(e, outcome, channels),
        });
      } catch (err) {
        log.warn({ esp, err }, 'bulk mode check failed; tried again at the next sweep');
        results[esp] = { error: err instanceof Error ? err.message : String(err) };
      }
    }
    return results;
  };

  // One count per channel the push covered; a contact with no decided channel counts once as `none`.
  const countOutcome = (e: EspName, outcome: string, channels?: Readonly<Record<string, { kind: string }>>) => {
    const entries = Object.entries(channels ?? {});
    if (entries.length === 0) metrics.espPush(e, 'none', outcome);
    for (const [channel, o] of entries) metrics.espPush(e, channel, o.kind);
  };

  const deliveryDeps = (esp: EspName): DeliveryDeps => ({
    models,
    adapter: adapters[esp]!,
    concurrency: config.esps[esp].concurrency,
    claimMs: config.push.claimMs,
    now: clock,
    log,
    enqueuePush,
    pauseEsp,
    onOutcome: (e, outcome, _lane, channels) => countOutcome(e, outcome, channels),
  });

  return {
    adapters,
    esps,
    enqueuePush,
    pauseEsp,
    resumeEsp,
    repush,
    pushContacts: (esp: EspName, lane: Lane, contactIds: readonly string[]) => {
      if (!adapters[esp]) throw new Error(`${esp} is not connected in this process`);
      return pushBatch(esp, lane, contactIds, deliveryDeps(esp));
    },
    sweepOutbox: async () => {
      const cutoff = new Date(clock().getTime() - config.sweeper.delayMs);
      const requeued: Record<string, number> = {};
      for (const esp of esps) {
        const stale = await stalePendingContacts(models, esp, cutoff, 1_000, clock().getTime());
        for (const lane of [1, 2, 3] as Lane[]) {
          await enqueuePush(esp, lane, stale.filter((s) => s.lane === lane).map((s) => s.contactId));
        }
        requeued[esp] = stale.length;
      }
      return { requeued, bulk: await bulkTicks() };
    },
    bulkTick: bulkTicks,
    isEspPaused,
    /**
     * Moves dead letters back into the outbox (after a fix at the ESP), through markPending like
     * any other change, so the claim rules keep one contact's pushes in order. All of an ESP's,
     * in batches, or only `contactIds`. A contact whose version moved between the read and the
     * write is left to its newer change, already pending, whose push clears the dead letter.
     */
    requeueDeadLetters: async (opts: { esps?: readonly EspName[]; contactIds?: readonly string[] } = {}) => {
      const requeued: Record<string, string[]> = {};
      const batch = 1_000;
      for (const esp of opts.esps ?? esps) {
        if (!adapters[esp]) throw new Error(`${esp} is not connected in this process`);
        const filter = { ...deadLetterFilter(esp), ...(opts.contactIds ? { _id: { $in: [...opts.contactIds] } } : {}) };
        const seen = new Set<string>();
        requeued[esp] = [];
        for (;;) {
          const docs = await models.contacts.find(filter as never, { _id: 1 }).sort({ [`deadLetters.${esp}.at`]: 1 }).limit(batch).lean();
          const fresh = docs.map((d) => d._id).filter((id) => !seen.has(id));
          if (fresh.length === 0) break;
          for (const id of fresh) seen.add(id);
          const marked = await markPending(esp, fresh, deadLetterFilter(esp), { [`deadLetters.${esp}`]: '' });
          requeued[esp].push(...marked);
          if (docs.length < batch) break;
        }
      }
      return requeued;
    },
  };
}
