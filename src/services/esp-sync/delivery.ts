import { EspError } from '../../esp/http/errors.js';
import type { EspAdapter, EspName, PushOutcome } from '../../esp/types.js';
import type { Logger } from '../../lib/logger.js';
import { mapWithConcurrency } from '../../esp/concurrency.js';
import { hydrateContact } from '../../persistence/contacts.repository.js';
import type { Settled } from '../micro-batcher.js';
import { guardedUpdateById } from '../../persistence/guarded-update.js';
import type { ContactDoc, Models, SyncStatusEntry } from '../../persistence/models.js';
import { JobRateLimited } from '../../queues/failure-policy.js';
import type { EspAck } from './acknowledge.js';
import { toSnapshot } from './snapshot.js';

export interface DeliveryDeps {
  adapters: Partial<Record<EspName, EspAdapter>>;
  /** Requests in flight per ESP and process (the ESP's documented concurrency). */
  concurrency: (esp: EspName) => number;
  now: () => Date;
  log: Logger;
  /** Re-enqueues a push; used when a newer version arrived while this one was in flight. */
  enqueuePush: (esp: EspName, contactIds: readonly string[]) => Promise<void>;
  /** 401/403: stop this ESP's queue and alert; its pending entries stay where they are. */
  pauseEsp: (esp: EspName, reason: string) => Promise<void>;
  onOutcome?: (esp: EspName, outcome: string) => void;
  /**
   * Reads contacts by `_id`. The wiring shares one read among the ESPs whose batches start
   * together, so a change pushed to five ESPs costs one read, not five.
   */
  readContacts: (contactIds: readonly string[]) => Promise<Map<string, ContactDoc>>;
  /** Clears acknowledged outbox entries (acknowledgeAll), shared among ESPs the same way. */
  acknowledge: (acks: readonly EspAck[]) => Promise<Set<EspAck>>;
}

export type PushJobResult =
  | { result: 'acked'; version: number; outcome: string; reason?: string }
  | { result: 'superseded'; pushedVersion: number }
  | { result: 'nothing_pending' }
  | { result: 'contact_missing' };

/** The job goes back to the (now paused) queue at once; the pause, not a delay, holds it. */
const AUTH_PAUSE_RECHECK_MS = 1_000;
const DEFAULT_RATE_LIMIT_MS = 1_000;

function outcomeLabel(outcome: PushOutcome): string {
  return outcome.kind === 'dead_letter' ? 'dead_letter' : outcome.kind;
}

function outcomeReason(outcome: PushOutcome): string | undefined {
  if ('reason' in outcome) return outcome.reason;
  if ('detail' in outcome) return outcome.detail;
  return undefined;
}

/** What a failed request means for each job in it: a retry, a pause, a rate-limit wait or a dead letter. */
async function outcomeOfFailure(esp: EspName, err: unknown, deps: DeliveryDeps): Promise<PushOutcome> {
  if (!EspError.is(err)) throw err;
  if (err.kind === 'auth') {
    await deps.pauseEsp(esp, err.message);
    throw new JobRateLimited(AUTH_PAUSE_RECHECK_MS, err.message);
  }
  if (err.kind === 'rate_limited') throw new JobRateLimited(err.retryAfterMs ?? DEFAULT_RATE_LIMIT_MS, err.message);
  if (err.kind === 'permanent') return { kind: 'dead_letter', reason: err.message };
  throw err; // retryable: BullMQ attempts with backoff; the outbox entry stays pending regardless
}

/**
 * Sends the snapshots in requests of the ESP's batch size, a few requests at a time. A request
 * that fails fails only its own contacts' jobs, and each of those retries on its own.
 */
async function deliver(esp: EspName, contacts: readonly ContactDoc[], deps: DeliveryDeps) {
  const adapter = deps.adapters[esp];
  if (!adapter) throw new Error(`${esp} is not connected in this process`);
  const size = Math.max(1, adapter.maxBatch);
  const chunks: ContactDoc[][] = [];
  for (let i = 0; i < contacts.length; i += size) chunks.push(contacts.slice(i, i + size));
  const outcomes = new Map<string, Settled<PushOutcome>>();
  await mapWithConcurrency(chunks, deps.concurrency(esp), async (chunk) => {
    try {
      const answered = await adapter.push(chunk.map(toSnapshot));
      for (const c of chunk) {
        const outcome = answered.get(c._id);
        outcomes.set(c._id, outcome ? { ok: true, value: outcome } : { ok: false, error: new Error(`${esp} returned no outcome for contact ${c._id}`) });
      }
    } catch (err) {
      const failure = await outcomeOfFailure(esp, err, deps).then(
        (value): Settled<PushOutcome> => ({ ok: true, value }),
        (error: unknown): Settled<PushOutcome> => ({ ok: false, error }),
      );
      for (const c of chunk) outcomes.set(c._id, failure);
    }
  });
  return outcomes;
}

function acknowledgement(esp: EspName, contact: ContactDoc, outcome: PushOutcome, now: Date): EspAck['update'] {
  const reason = outcomeReason(outcome);
  const sync: SyncStatusEntry = {
    status: outcome.kind === 'dead_letter' ? 'dead_letter' : 'synced',
    version: contact.version,
    outcome: outcomeLabel(outcome),
    at: now,
    ...(reason ? { reason } : {}),
  };
  const set: Record<string, unknown> = { [`sync.${esp}`]: sync };
  const unset: Record<string, ''> = { [`outbox.${esp}`]: '' };
  if (outcome.kind === 'dead_letter') set[`deadLetters.${esp}`] = { version: contact.version, reason: reason ?? 'refused', at: now };
  else unset[`deadLetters.${esp}`] = '';
  return { $set: set, $unset: unset };
}

/**
 * Pushes the current state of a batch of contacts to one ESP and acknowledges each outbox entry
 * only if no newer version arrived meanwhile. The queue allows one job per (contact, ESP) at a
 * time and every push reads the state afresh, so an ESP never sees an older state after a newer
 * one. One read and one bulk write of the contacts serve the whole batch, and the batches of the
 * other ESPs that run at the same moment.
 */
export async function pushContacts(
  esp: EspName,
  contactIds: readonly string[],
  deps: DeliveryDeps,
): Promise<Map<string, Settled<PushJobResult>>> {
  const results = new Map<string, Settled<PushJobResult>>();
  const byId = await deps.readContacts(contactIds);
  const toPush: ContactDoc[] = [];
  for (const id of contactIds) {
    const stored = byId.get(id);
    const contact = stored && hydrateContact(stored);
    if (!contact) results.set(id, { ok: true, value: { result: 'contact_missing' } });
    else if (!contact.outbox[esp]) results.set(id, { ok: true, value: { result: 'nothing_pending' } });
    else toPush.push(contact);
  }
  if (toPush.length === 0) return results;

  const outcomes = await deliver(esp, toPush, deps);
  const now = deps.now();
  const acks: { contact: ContactDoc; outcome: PushOutcome; ack: EspAck }[] = [];
  for (const contact of toPush) {
    const outcome = outcomes.get(contact._id)!;
    if (!outcome.ok) results.set(contact._id, outcome);
    else
      acks.push({
        contact,
        outcome: outcome.value,
        ack: {
          esp,
          contactId: contact._id,
          pendingVersion: contact.outbox[esp]!.version,
          update: acknowledgement(esp, contact, outcome.value, now),
        },
      });
  }
  const acked = await deps.acknowledge(acks.map((a) => a.ack));
  const superseded: string[] = [];
  for (const { contact, outcome, ack } of acks) {
    const label = outcomeLabel(outcome);
    const reason = outcomeReason(outcome);
    deps.onOutcome?.(esp, label);
    if (!acked.has(ack)) {
      superseded.push(contact._id);
      results.set(contact._id, { ok: true, value: { result: 'superseded', pushedVersion: contact.version } });
      continue;
    }
    if (outcome.kind === 'dead_letter') deps.log.warn({ esp, contactId: contact._id, reason }, 'push dead-lettered');
    results.set(contact._id, {
      ok: true,
      value: { result: 'acked', version: contact.version, outcome: label, ...(reason ? { reason } : {}) },
    });
  }
  // A newer change arrived while we pushed: its entry stays pending and gets its own push.
  await deps.enqueuePush(esp, superseded);
  return results;
}

/** Contacts whose outbox entry for `esp` has waited longer than `olderThan`: lost or stuck pushes. */
export async function stalePendingContacts(models: Models, esp: EspName, olderThan: Date, limit: number): Promise<string[]> {
  const docs = await models.contacts
    .find({ [`outbox.${esp}.since`]: { $lt: olderThan } }, { _id: 1 })
    .limit(limit)
    .lean();
  return docs.map((d) => d._id);
}

/** Moves dead letters back into the outbox so they are pushed again (after a fix at the ESP). */
export async function replayDeadLetters(
  models: Models,
  esps: readonly EspName[],
  now: Date,
  withContactLock: <T>(contactId: string, fn: () => Promise<T>) => Promise<T>,
  limit = 10_000,
) {
  const replayed: Record<string, string[]> = {};
  for (const esp of esps) {
    const docs = await models.contacts.find({ [`deadLetters.${esp}`]: { $exists: true } }, { _id: 1, version: 1 }).limit(limit).lean();
    replayed[esp] = [];
    for (const doc of docs) {
      const moved = await withContactLock(doc._id, () =>
        guardedUpdateById(
          models.contacts,
          doc._id,
          { [`deadLetters.${esp}`]: { $exists: true } },
          {
            $set: { [`outbox.${esp}`]: { version: doc.version, since: now, optOut: false }, [`sync.${esp}.status`]: 'pending' },
            $unset: { [`deadLetters.${esp}`]: '' },
          },
          models.atomicGuards,
        ),
      );
      if (moved) replayed[esp].push(doc._id);
    }
  }
  return replayed;
}

export type { EspAdapter };
