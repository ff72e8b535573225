import type { AnyBulkWriteOperation } from 'mongoose';
import { BULK_LANE, type Lane } from '../domain/index.js';
import type { ContactDoc, OutboxEntry } from './models.js';

/**
 * The embedded outbox: `contact.outbox.<esp>` says that ESP still has to receive the contact's
 * current state. Every write here is one single-document update whose filter carries its guard,
 * so MongoDB checks and writes atomically; there is no other write path.
 *
 * How the ordering invariant (for one contact and one ESP, an older state never reaches the ESP
 * after a newer one) is kept, whatever the number of workers, crashes or retries:
 * 1. Only the holder of a live claim on the entry sends the contact to that ESP. A claim is taken
 *    with `claimUntil < now` in the filter, so two pushes never hold it at once.
 * 2. The holder reads the contact *after* claiming, and sends that state. Versions only grow,
 *    so what it sends is at least as new as anything a previous holder sent.
 * 3. A holder stops sending before its claim runs out (its requests are aborted at the claim's
 *    deadline minus a margin: see src/delivery/delivery.ts), so an expired claim never has
 *    a request of its holder still in flight when the next holder starts.
 * 4. Writers that mark a contact pending (apply, repair, replay) set the entry's fields one by
 *    one and never touch `claimUntil`/`claimBy` (only `$max` 0, which creates a missing field and
 *    leaves a live claim as it is), so a newer change never erases a claim in flight.
 * 5. The acknowledgement removes the entry only if it still holds the version pushed *and* the
 *    pusher's claim; a newer version keeps the entry pending for the next push.
 * 6. A bulk (services/esp-sync/bulk.ts) is a holder whose request lands at the ESP whenever the
 *    ESP runs it, hours later maybe: its claim (`bulk:<id>`) lasts until the ESP reports the bulk
 *    processed (or it is given up), and only then are newer states of its contacts pushed.
 */

export interface PendingChange {
  version: number;
  since: Date;
  optOut: boolean;
  lane: Lane;
}

const path = (esp: string, field: keyof OutboxEntry) => `outbox.${esp}.${field}`;

/** The fields that make (contact, esp) pending at `change.version`, leaving any claim alone. */
export function pendingFields(esp: string, change: PendingChange): { $set: Record<string, unknown>; $max: Record<string, number> } {
  return {
    $set: {
      [path(esp, 'version')]: change.version,
      [path(esp, 'since')]: change.since,
      [path(esp, 'optOut')]: change.optOut,
      [path(esp, 'lane')]: change.lane,
      [`sync.${esp}.status`]: 'pending',
      [`sync.${esp}.version`]: change.version,
    },
    $max: { [path(esp, 'claimUntil')]: 0 },
  };
}

/** Merges per-ESP pending fields into one update document. */
export function mergeUpdates(parts: readonly { $set: Record<string, unknown>; $max?: Record<string, number> }[]) {
  const $set: Record<string, unknown> = {};
  const $max: Record<string, number> = {};
  for (const part of parts) {
    Object.assign($set, part.$set);
    if (part.$max) Object.assign($max, part.$max);
  }
  return Object.keys($max).length > 0 ? { $set, $max } : { $set };
}

/**
 * Takes the entry for `token` until `untilMs`, if it exists and nobody holds a live claim. An
 * entry written before claims existed has no `claimUntil`; `$not: {$gte}` treats it as free.
 */
export function claimOp(esp: string, contactId: string, token: string, nowMs: number, untilMs: number): AnyBulkWriteOperation<ContactDoc> {
  return {
    updateOne: {
      filter: {
        _id: contactId,
        [path(esp, 'version')]: { $exists: true },
        [path(esp, 'claimUntil')]: { $not: { $gte: nowMs } },
      } as never,
      update: { $set: { [path(esp, 'claimUntil')]: untilMs, [path(esp, 'claimBy')]: token } } as never,
    },
  };
}

/**
 * Gives a claim back (the push failed or was superseded), so the next push need not wait for it
 * to expire. `heldUntilMs` keeps the entry unclaimable until then: a request that failed
 * without an answer (a timeout, a reset) may still be applied by the ESP a moment later, and a
 * push of a newer state must not overtake it there.
 */
export function releaseOp(esp: string, contactId: string, token: string, heldUntilMs = 0): AnyBulkWriteOperation<ContactDoc> {
  return {
    updateOne: {
      filter: { _id: contactId, [path(esp, 'claimBy')]: token } as never,
      update: { $set: { [path(esp, 'claimUntil')]: heldUntilMs }, $unset: { [path(esp, 'claimBy')]: '' } } as never,
    },
  };
}

/** Removes the entry if it still holds `version` under our claim, and records the outcome. */
export function acknowledgeOp(
  esp: string,
  contactId: string,
  token: string,
  version: number,
  update: { $set: Record<string, unknown>; $unset: Record<string, ''> },
): AnyBulkWriteOperation<ContactDoc> {
  return {
    updateOne: {
      filter: { _id: contactId, [path(esp, 'version')]: version, [path(esp, 'claimBy')]: token } as never,
      update: { $set: update.$set, $unset: { ...update.$unset, [`outbox.${esp}`]: '' } } as never,
    },
  };
}

/** The lane of a pending entry; one written before lanes existed counts as the lowest. */
export function laneOfEntry(entry: Pick<OutboxEntry, 'lane'> | undefined): Lane {
  return entry?.lane ?? BULK_LANE;
}

export const BULK_CLAIM_PREFIX = 'bulk:';

/** True when a bulk the ESP has not reported yet holds `entry`: its bulk queues it again when it has. */
export function heldByBulk(entry: OutboxEntry | undefined, nowMs: number): boolean {
  return entry?.claimBy?.startsWith(BULK_CLAIM_PREFIX) === true && (entry.claimUntil ?? 0) >= nowMs;
}

/** True when `entry` is held by a claim other than `token` that has not run out at `nowMs`. */
export function heldByOther(entry: OutboxEntry | undefined, token: string, nowMs: number): boolean {
  return entry !== undefined && entry.claimBy !== token && (entry.claimUntil ?? 0) >= nowMs;
}
