import type { Config } from '../../../config/index.js';
import { ESP_PUSH_JOB } from '../../../jobs/esp-push.job.js';
import { createEspAdapters } from '../../esp/registry.js';
import { ESP_NAMES, type EspAdapter, type EspName } from '../../esp/types.js';
import type { Metrics } from '../../metrics/metrics.js';
import { loadContact } from '../../persistence/contacts.repository.js';
import { guardedUpdateById } from '../../persistence/guarded-update.js';
import type { Models } from '../../persistence/models.js';
import { espQueueName } from '../../queues/names.js';
import type { QueueRuntime } from '../../queues/runtime.js';
import { type DeliveryDeps, type PushJobResult, pushContacts, replayDeadLetters, stalePendingContacts } from '../../services/esp-sync/delivery.js';
import { type AcknowledgeDeps, acknowledgeAll, type EspAck } from '../../services/esp-sync/acknowledge.js';
import { MicroBatcher, SharedWindow } from '../../services/micro-batcher.js';
import { readByIds } from '../../persistence/read-by-ids.js';
import type { Logger } from '../logger.js';

export interface EspSyncWiring {
  config: Config;
  log: Logger;
  models: Models;
  runtime: QueueRuntime;
  metrics: Metrics;
  clock: () => Date;
  withContactLock: <T>(contactId: string, fn: () => Promise<T>) => Promise<T>;
  inLeasedRounds: AcknowledgeDeps['inLeasedRounds'];
}

/** The ESP side of a process: adapters of the connected ESPs, their batchers and queue operations. */
export function createEspSync(w: EspSyncWiring) {
  const { config, log, models, runtime, metrics, clock, withContactLock, inLeasedRounds } = w;
  const adapters: Partial<Record<EspName, EspAdapter>> = createEspAdapters(
    config.esps,
    log.child({ component: 'esp' }),
  );
  const esps = ESP_NAMES.filter((esp) => adapters[esp] !== undefined);

  const addPushJobs = async (esp: EspName, contactIds: readonly string[]) => {
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

  // Pushes asked for in the same turn of the event loop (all jobs of an apply batch) share one
  // addBulk per ESP: one round trip instead of one per contact.
  const gathering = new Map<EspName, { ids: Set<string>; added: Promise<void> }>();
  const enqueuePush = (esp: EspName, contactIds: readonly string[]): Promise<void> => {
    if (contactIds.length === 0) return Promise.resolve();
    let pending = gathering.get(esp);
    if (!pending) {
      const ids = new Set<string>();
      const added = new Promise<void>((resolve, reject) =>
        setImmediate(() => {
          gathering.delete(esp);
          addPushJobs(esp, [...ids]).then(resolve, reject);
        }),
      );
      pending = { ids, added };
      gathering.set(esp, pending);
    }
    for (const id of contactIds) pending.ids.add(id);
    return pending.added;
  };

  const pauseEsp = async (esp: EspName, reason: string) => {
    await runtime.queue(espQueueName(esp)).pause();
    metrics.setEspPaused(esp, true);
    log.error(
      { esp, reason, alert: 'esp_auth_failed' },
      `${esp} rejected our credentials; its queue is paused and pending changes are kept`,
    );
  };

  const resumeEsp = async (esp: EspName) => {
    const queue = runtime.queue(espQueueName(esp));
    await queue.removeRateLimitKey();
    await queue.resume();
    metrics.setEspPaused(esp, false);
    log.info({ esp }, `${esp} queue resumed`);
  };

  /** Ensures an outbox entry for (contact, ESP) and queues its push: reconciliation's repair. */
  const repush = async (esp: EspName, contactId: string) => {
    await withContactLock(contactId, async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const contact = await loadContact(models, contactId);
        if (!contact || contact.outbox[esp]) return;
        const optOut =
          contact.effective.tracking.state === 'opted_out' ||
          Object.values(contact.effective.marketing).some((d) => d.state === 'opted_out');
        const set = {
          [`outbox.${esp}`]: { version: contact.version, since: clock(), optOut },
          [`sync.${esp}.status`]: 'pending',
        };
        if (
          await guardedUpdateById(
            models.contacts,
            contactId,
            { rev: contact.rev },
            { $set: set, $inc: { rev: 1 } },
            models.atomicGuards,
          )
        )
          return;
      }
    });
    await enqueuePush(esp, [contactId]);
  };

  // The ESPs' push jobs for one contact change start within milliseconds of each other (their
  // jobs are queued together): reads and acknowledgements issued within these windows are shared.
  const contactReads = new SharedWindow(
    (ids: string[]) => readByIds(models.contacts, ids, models.reads, PUSH_FIELDS),
    READ_WINDOW_MS,
    SHARED_WINDOW_MAX_ITEMS,
  );
  const acknowledgements = new SharedWindow(
    (acks: EspAck[]) => acknowledgeAll(acks, { models, inLeasedRounds }),
    ACK_WINDOW_MS,
    SHARED_WINDOW_MAX_ITEMS,
  );
  const deliveryDeps: DeliveryDeps = {
    adapters,
    concurrency: (esp: EspName) => config.esps[esp].concurrency,
    now: clock,
    log,
    enqueuePush,
    pauseEsp,
    readContacts: (ids) => contactReads.submit(ids),
    acknowledge: (acks) => acknowledgements.submit(acks),
    onOutcome: (esp: EspName, outcome: string) => metrics.espPush(esp, outcome),
  };
  // Push jobs of one ESP gathered for its linger (ESP_BATCH_LINGER_MS unless the ESP sets its
  // own) share one read, one request per ESP batch and one acknowledging write; up to half the
  // queue's concurrency, so the next batch gathers while one is in flight.
  const pushBatchers: Partial<Record<EspName, MicroBatcher<string, PushJobResult>>> = {};
  for (const esp of esps) {
    pushBatchers[esp] = new MicroBatcher(
      (contactIds) => pushContacts(esp, contactIds, deliveryDeps),
      Math.max(1, Math.floor(espJobConcurrency(config, esp) / 2)),
      config.esps[esp].batchLingerMs ?? config.espBatchLingerMs,
    );
  }

  return {
    adapters,
    esps,
    enqueuePush,
    pauseEsp,
    resumeEsp,
    repush,
    pushContact: (esp: EspName, contactId: string) => {
      const batcher = pushBatchers[esp];
      if (!batcher) throw new Error(`${esp} is not connected in this process`);
      return batcher.submit(contactId);
    },
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
    replayDeadLetters: async (only?: readonly EspName[]) => {
      const replayed = await replayDeadLetters(models, only ?? esps, clock(), withContactLock);
      for (const [esp, ids] of Object.entries(replayed)) await enqueuePush(esp as EspName, ids);
      return replayed;
    },
  };
}

/**
 * What a push reads of a contact: what adapters are sent (toSnapshot) and what the acknowledgement
 * guards. The journal, listings and sync states are most of a document and no push needs them.
 */
const PUSH_FIELDS = { identities: 1, effective: 1, version: 1, outbox: 1 } as const;
/** Short enough to add nothing noticeable to a push, long enough to catch the other ESPs' batches. */
const READ_WINDOW_MS = 3;
/** ESPs answer at different speeds; acknowledgements wait a little longer for each other. */
const ACK_WINDOW_MS = 10;
/** Keeps one shared read or bulk write to a few thousand documents. */
const SHARED_WINDOW_MAX_ITEMS = 2_000;

/** BullMQ caps in-process concurrency; batches need enough concurrent jobs to fill them. */
const MAX_ESP_JOB_CONCURRENCY = 200;

/** Concurrent push jobs of one ESP in one worker process: enough to fill two of its batches. */
export function espJobConcurrency(config: Config, esp: EspName): number {
  const batch = Math.max(1, config.esps[esp].maxBatch);
  return Math.min(Math.max(config.espWorkerConcurrency, batch > 1 ? 2 * batch : 1), MAX_ESP_JOB_CONCURRENCY);
}
