import { EspError } from '../../esp/http/errors.js';
import type { EspAdapter, EspName, PushOutcome } from '../../esp/types.js';
import type { Logger } from '../../lib/logger.js';
import { loadContact } from '../../persistence/contacts.repository.js';
import { guardedUpdateById } from '../../persistence/guarded-update.js';
import type { Models, SyncStatusEntry } from '../../persistence/models.js';
import { JobRateLimited } from '../../queues/failure-policy.js';
import type { PushBatcher } from './batcher.js';
import { toSnapshot } from './snapshot.js';

export interface DeliveryDeps {
  models: Models;
  batchers: Partial<Record<EspName, PushBatcher>>;
  now: () => Date;
  log: Logger;
  /** Re-enqueues a push; used when a newer version arrived while this one was in flight. */
  enqueuePush: (esp: EspName, contactIds: readonly string[]) => Promise<void>;
  /** 401/403: stop this ESP's queue and alert; its pending entries stay where they are. */
  pauseEsp: (esp: EspName, reason: string) => Promise<void>;
  onOutcome?: (esp: EspName, outcome: string) => void;
  withContactLock: <T>(contactId: string, fn: () => Promise<T>) => Promise<T>;
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

/**
 * Pushes one contact's current state to one ESP and acknowledges the outbox entry only if no
 * newer version arrived meanwhile. The queue allows one job per (contact, ESP) at a time, and
 * every push reads the state afresh, so an ESP never sees an older state after a newer one.
 */
export async function pushContact(esp: EspName, contactId: string, deps: DeliveryDeps): Promise<PushJobResult> {
  const contact = await loadContact(deps.models, contactId);
  if (!contact) return { result: 'contact_missing' };
  const pending = contact.outbox[esp];
  if (!pending) return { result: 'nothing_pending' };
  const batcher = deps.batchers[esp];
  if (!batcher) throw new Error(`${esp} is not connected in this process`);

  let outcome: PushOutcome;
  try {
    outcome = await batcher.submit(toSnapshot(contact));
  } catch (err) {
    if (!EspError.is(err)) throw err;
    if (err.kind === 'auth') {
      await deps.pauseEsp(esp, err.message);
      throw new JobRateLimited(AUTH_PAUSE_RECHECK_MS, err.message);
    }
    if (err.kind === 'rate_limited') throw new JobRateLimited(err.retryAfterMs ?? DEFAULT_RATE_LIMIT_MS, err.message);
    if (err.kind === 'permanent') outcome = { kind: 'dead_letter', reason: err.message };
    else throw err; // retryable: BullMQ attempts with backoff; the outbox entry stays pending regardless
  }

  const now = deps.now();
  const label = outcomeLabel(outcome);
  const reason = outcomeReason(outcome);
  const sync: SyncStatusEntry = {
    status: outcome.kind === 'dead_letter' ? 'dead_letter' : 'synced',
    version: contact.version,
    outcome: label,
    at: now,
    ...(reason ? { reason } : {}),
  };
  const set: Record<string, unknown> = { [`sync.${esp}`]: sync };
  const unset: Record<string, ''> = { [`outbox.${esp}`]: '' };
  if (outcome.kind === 'dead_letter') set[`deadLetters.${esp}`] = { version: contact.version, reason: reason ?? 'refused', at: now };
  else unset[`deadLetters.${esp}`] = '';

  const ack = () =>
    guardedUpdateById(
      deps.models.contacts,
      contactId,
      { [`outbox.${esp}.version`]: pending.version },
      { $set: set, $unset: unset },
      deps.models.atomicGuards,
    );
  // Where the server checks the guard atomically the lease adds nothing but Redis round trips.
  const acked = deps.models.atomicGuards ? await ack() : await deps.withContactLock(contactId, ack);
  deps.onOutcome?.(esp, label);
  if (!acked) {
    // A newer change arrived while we pushed: its entry stays pending and gets its own push.
    await deps.enqueuePush(esp, [contactId]);
    return { result: 'superseded', pushedVersion: contact.version };
  }
  if (outcome.kind === 'dead_letter') deps.log.warn({ esp, contactId, reason }, 'push dead-lettered');
  return { result: 'acked', version: contact.version, outcome: label, ...(reason ? { reason } : {}) };
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
  withContactLock: DeliveryDeps['withContactLock'],
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
