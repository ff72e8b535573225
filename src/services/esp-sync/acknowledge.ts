import type { EspName } from '../../esp/types.js';
import type { ContactDoc, Models } from '../../persistence/models.js';
import { readByIds } from '../../persistence/read-by-ids.js';

/** One ESP's acknowledgement of one contact: clear its outbox entry if it still holds `pendingVersion`. */
export interface EspAck {
  esp: EspName;
  contactId: string;
  pendingVersion: number;
  /** Touches only this ESP's paths (`sync.<esp>`, `outbox.<esp>`, `deadLetters.<esp>`). */
  update: { $set: Record<string, unknown>; $unset: Record<string, ''> };
}

export interface AcknowledgeDeps {
  models: Models;
  /** Leases taken in rounds as they come free (see ContactLocks.inLeasedRounds). */
  inLeasedRounds: (contactIds: readonly string[], fn: (held: string[]) => Promise<void>) => Promise<void>;
}

const guardPath = (esp: EspName) => `outbox.${esp}.version`;

function stillPending(doc: { outbox?: ContactDoc['outbox'] } | undefined, ack: EspAck): boolean {
  return doc?.outbox?.[ack.esp]?.version === ack.pendingVersion;
}

/** Read back after a refused write: an entry gone from a contact that exists was acknowledged. */
function cleared(doc: { outbox?: ContactDoc['outbox'] } | undefined, ack: EspAck): boolean {
  return doc !== undefined && doc.outbox?.[ack.esp] === undefined;
}

function byContact(acks: readonly EspAck[]): Map<string, EspAck[]> {
  const grouped = new Map<string, EspAck[]>();
  for (const ack of acks) {
    const group = grouped.get(ack.contactId);
    if (group) group.push(ack);
    else grouped.set(ack.contactId, [ack]);
  }
  return grouped;
}

/** The ESPs' updates touch disjoint paths, so one contact's acknowledgements become one update. */
function merged(acks: readonly EspAck[]) {
  const $set: Record<string, unknown> = {};
  const $unset: Record<string, ''> = {};
  for (const ack of acks) {
    Object.assign($set, ack.update.$set);
    Object.assign($unset, ack.update.$unset);
  }
  return { $set, $unset };
}

/**
 * Clears the outbox entries that still hold the version each ESP pushed. The acknowledgements of
 * all ESPs for one contact go out as one update, so a contact change pushed to five ESPs costs
 * one write instead of five. Where the server checks the guard atomically (MongoDB) the guards of
 * every ESP in the update sit in its filter; elsewhere the contacts are leased, re-read and
 * checked ESP by ESP, and written by `_id`. Returns the acknowledgements that took effect.
 */
export async function acknowledgeAll(acks: readonly EspAck[], deps: AcknowledgeDeps): Promise<Set<EspAck>> {
  if (acks.length === 0) return new Set();
  // The same (contact, ESP) twice in one window (overlapping pushes) waits for a later round,
  // so every update carries one guard per ESP.
  const seen = new Set<string>();
  const now: EspAck[] = [];
  const later: EspAck[] = [];
  for (const ack of acks) {
    const key = `${ack.esp}\u0000${ack.contactId}`;
    if (seen.has(key)) later.push(ack);
    else {
      seen.add(key);
      now.push(ack);
    }
  }
  const acked = deps.models.atomicGuards ? await acknowledgeAtomically(now, deps.models) : await acknowledgeUnderLeases(now, deps);
  for (const ack of await acknowledgeAll(later, deps)) acked.add(ack);
  return acked;
}

async function acknowledgeAtomically(acks: readonly EspAck[], models: Models): Promise<Set<EspAck>> {
  const grouped = byContact(acks);
  const result = await models.contacts.bulkWrite(
    [...grouped].map(([contactId, group]) => ({
      updateOne: {
        filter: { _id: contactId, ...Object.fromEntries(group.map((a) => [guardPath(a.esp), a.pendingVersion])) },
        update: merged(group),
      },
    })),
    { ordered: false },
  );
  if (result.matchedCount === grouped.size) return new Set(acks);

  // Some contact had a newer change for one of its ESPs, so its whole update was refused, and the
  // result does not say which. An entry gone is acknowledged; one still at the version pushed was
  // refused along with a superseded neighbour and is tried again on its own; a newer one was superseded.
  const after = await readByIds(models.contacts, [...grouped.keys()], models.reads, { outbox: 1 });
  const acked = new Set<EspAck>();
  const retry: EspAck[] = [];
  for (const ack of acks) {
    const doc = after.get(ack.contactId);
    if (cleared(doc, ack)) acked.add(ack);
    else if (stillPending(doc, ack)) retry.push(ack);
  }
  if (retry.length === 0) return acked;
  const single = await models.contacts.bulkWrite(
    retry.map((a) => ({
      updateOne: { filter: { _id: a.contactId, [guardPath(a.esp)]: a.pendingVersion }, update: a.update },
    })),
    { ordered: false },
  );
  if (single.matchedCount === retry.length) {
    for (const a of retry) acked.add(a);
    return acked;
  }
  const last = await readByIds(models.contacts, retry.map((a) => a.contactId), models.reads, { outbox: 1 });
  for (const a of retry) if (cleared(last.get(a.contactId), a)) acked.add(a);
  return acked;
}

async function acknowledgeUnderLeases(acks: readonly EspAck[], deps: AcknowledgeDeps): Promise<Set<EspAck>> {
  const { models } = deps;
  const grouped = byContact(acks);
  const acked = new Set<EspAck>();
  await deps.inLeasedRounds([...grouped.keys()], async (held) => {
    const fresh = await readByIds(models.contacts, held, models.reads, { outbox: 1 });
    const writes: { contactId: string; acks: EspAck[] }[] = [];
    for (const contactId of held) {
      const writable = grouped.get(contactId)!.filter((a) => stillPending(fresh.get(contactId), a));
      if (writable.length > 0) writes.push({ contactId, acks: writable });
    }
    if (writes.length === 0) return;
    await models.contacts.bulkWrite(
      writes.map((w) => ({ updateOne: { filter: { _id: w.contactId }, update: merged(w.acks) } })),
      { ordered: false },
    );
    for (const w of writes) for (const a of w.acks) acked.add(a);
  });
  return acked;
}
