import { identityKeys } from '../domain/index.js';
import { createContacts, findIdentityOwners, hydrateContact } from '../persistence/contacts.repository.js';
import type { ContactDoc, StoredEventDoc } from '../persistence/models.js';
import { bulkUpdate, readByIds } from '../persistence/read-by-ids.js';
import {
  type ApplyDeps,
  type ApplyJobResult,
  alreadyDone,
  applyStoredEvent,
  auditRecord,
  type ContactStep,
  contactChanges,
  doneFields,
  jobResult,
  stepContact,
  UnknownEventError,
  writeAudits,
} from './apply-event.js';
import { journalOverflow, unsettledEvents } from './journal.js';
import { type Settled, settleEach } from './micro-batcher.js';

export type ApplyBatchDeps = ApplyDeps;

/**
 * Applies a batch of stored events with a handful of commands in all: one read of the events,
 * one of the identities, one of the contacts, one bulk write of the contacts, one insert of the
 * audit records and one bulk update of the events. Each contact's events are chained in memory
 * by the same step as the single path, so the outcome equals applying them one at a time.
 * Anything out of the ordinary — a person whose identities need linking, a write that lost its
 * `rev` guard to another worker — goes through the single path (applyStoredEvent), which is
 * idempotent.
 */
export async function applyStoredEvents(
  eventIds: readonly string[],
  deps: ApplyBatchDeps,
): Promise<Map<string, Settled<ApplyJobResult>>> {
  const { models } = deps;
  const results = new Map<string, Settled<ApplyJobResult>>();
  const byId = await readByIds(models.events, eventIds);
  const pending: StoredEventDoc[] = [];
  for (const eventId of eventIds) {
    const doc = byId.get(eventId);
    if (!doc) results.set(eventId, { ok: false, error: new UnknownEventError(eventId) });
    else if (doc.status === 'done') results.set(eventId, { ok: true, value: alreadyDone(doc) });
    else pending.push(doc);
  }
  if (pending.length === 0) return results;

  const { known, unknown } = await contactsOf(pending, deps);
  const fallback: StoredEventDoc[] = [...unknown];
  const steps = await applyToContacts(known, deps, fallback);

  await writeAudits(
    models,
    steps.map(([doc, step]) => auditRecord(doc, step.audit)),
  );
  if (steps.length > 0) {
    await bulkUpdate(
      models.events,
      steps.map(([doc, step]) => ({ updateOne: { filter: { _id: doc._id }, update: { $set: doneFields(step.audit) } } })),
    );
  }
  for (const [doc, step] of steps) results.set(doc._id, { ok: true, value: jobResult(doc._id, step) });

  const single = await settleEach(fallback, (doc) => applyStoredEvent(doc._id, deps));
  for (const [doc, outcome] of single) results.set(doc._id, outcome);
  return results;
}

/**
 * Maps events to contacts with one read of the identity keys. People we do not know yet are
 * created together (createContacts) when each is plainly one new person: every key of the event
 * unknown, and the same keys in all of that person's events, shared with no other person of the
 * batch. Anything else (keys pointing at different contacts, overlapping key sets) is left to the
 * single path, which links identities one at a time.
 */
async function contactsOf(events: readonly StoredEventDoc[], deps: ApplyBatchDeps) {
  const keysOf = new Map<string, string[]>();
  const known = new Map<string, StoredEventDoc[]>();
  const unknown: StoredEventDoc[] = [];
  const usable: StoredEventDoc[] = [];
  for (const event of events) {
    // A stored event whose identity cannot be read (corrupted behind our back) fails on the
    // one-event path, on its own, and never takes the rest of the batch down with it.
    try {
      keysOf.set(event._id, identityKeys(event.contact));
      usable.push(event);
    } catch {
      unknown.push(event);
    }
  }
  const allKeys = [...new Set([...keysOf.values()].flat())];
  const ownerOf = await findIdentityOwners(deps.models, allKeys);
  const newPeople = new Map<string, StoredEventDoc[]>();
  for (const event of usable) {
    const keys = keysOf.get(event._id)!;
    const ids = keys.map((key) => ownerOf.get(key));
    const first = ids[0];
    if (ids.every((id) => id === undefined)) addTo(newPeople, keys.join('\u0000'), event);
    else if (first === undefined || ids.some((id) => id !== first)) unknown.push(event);
    else addTo(known, first, event);
  }
  const creatable = plainlyNewPeople(newPeople, keysOf, unknown);
  if (creatable.length === 0) return { known, unknown };
  const created = await createContacts(
    deps.models,
    creatable.map((group) => group[0]!.contact),
    deps.policy,
    deps.now(),
  );
  for (const group of creatable) {
    const contactId = created.get(keysOf.get(group[0]!._id)![0]!);
    if (contactId) known.set(contactId, group);
    else unknown.push(...group);
  }
  return { known, unknown };
}

/** The groups of new people that share no key with another group; the others go to `unknown`. */
function plainlyNewPeople(groups: ReadonlyMap<string, StoredEventDoc[]>, keysOf: ReadonlyMap<string, string[]>, unknown: StoredEventDoc[]) {
  const groupsOfKey = new Map<string, number>();
  for (const events of groups.values()) for (const key of keysOf.get(events[0]!._id)!) groupsOfKey.set(key, (groupsOfKey.get(key) ?? 0) + 1);
  const plain: StoredEventDoc[][] = [];
  for (const events of groups.values()) {
    if (keysOf.get(events[0]!._id)!.every((key) => groupsOfKey.get(key) === 1)) plain.push(events);
    else unknown.push(...events);
  }
  return plain;
}

function addTo<K, V>(map: Map<K, V[]>, key: K, value: V) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * What stepContact and contactChanges read of a contact: the effective state is recomputed from
 * the listings, and sync states (with their channel outcomes), dead letters and ESP identities
 * are delivery's, written field by field and never rewritten here. Decoding them, a large part
 * of a document, cost CPU and young-generation garbage on every apply batch.
 */
const STEP_FIELDS = { listings: 1, version: 1, rev: 1, outbox: 1, journal: 1 } as const;

/** Rounds of re-reading and re-stepping contacts whose `rev` guard lost to another writer. */
const CONFLICT_ROUNDS = 3;

async function applyToContacts(
  groups: ReadonlyMap<string, readonly StoredEventDoc[]>,
  deps: ApplyBatchDeps,
  fallback: StoredEventDoc[],
): Promise<[StoredEventDoc, ContactStep][]> {
  const steps: [StoredEventDoc, ContactStep][] = [];
  let remaining = [...groups.keys()];
  for (let round = 0; round < CONFLICT_ROUNDS && remaining.length > 0; round++) {
    remaining = await stepAndWrite(remaining, groups, deps, steps, fallback);
  }
  for (const id of remaining) fallback.push(...groups.get(id)!);
  return steps;
}

/**
 * One round: reads the contacts, chains each one's events in memory and writes them in one bulk
 * write, each update guarded by the `rev` it read (MongoDB checks and writes each document
 * atomically). Returns the contacts to step again when some guard lost to another writer.
 */
async function stepAndWrite(
  ids: readonly string[],
  groups: ReadonlyMap<string, readonly StoredEventDoc[]>,
  deps: ApplyBatchDeps,
  steps: [StoredEventDoc, ContactStep][],
  fallback: StoredEventDoc[],
): Promise<string[]> {
  const { models } = deps;
  const contacts = await readByIds(models.contacts, ids, STEP_FIELDS);
  const esps = deps.connectedEsps();
  const now = deps.now();
  const writes: { before: ContactDoc; after: ContactDoc; events: readonly StoredEventDoc[]; steps: ContactStep[] }[] = [];
  for (const id of ids) {
    const events = groups.get(id)!;
    const stored = contacts.get(id);
    const before = stored && hydrateContact(stored);
    if (!before) {
      fallback.push(...events);
      continue;
    }
    let after = before;
    let contactSteps: ContactStep[];
    try {
      contactSteps = events.map((event) => {
        const step = stepContact(after, event, { policy: deps.policy, now, esps });
        if (step.contact) after = step.contact;
        return step;
      });
    } catch {
      // One malformed event or document: its contact's events fail one by one on the single path.
      fallback.push(...events);
      continue;
    }
    if (after === before) steps.push(...pairs(events, contactSteps));
    else writes.push({ before, after, events, steps: contactSteps });
  }
  if (writes.length === 0) return [];
  // One read for the whole batch, and only when some journal outgrows its window (journal.ts).
  const unsettled = await unsettledEvents(
    models,
    writes.flatMap(({ before, after }) => journalOverflow(before.journal, after.journal)),
  );
  const result = await bulkUpdate(
    models.contacts,
    writes.map(({ before, after }) => ({
      updateOne: { filter: { _id: before._id, rev: before.rev }, update: contactChanges(before, after, esps, unsettled) as never },
    })),
  );
  if (result.matchedCount === writes.length) {
    for (const w of writes) steps.push(...pairs(w.events, w.steps));
    return [];
  }
  // Some guard lost to another writer and the result does not say which. Every contact of this
  // write is stepped again from what is stored now: an event already journaled (by us, or by
  // another worker handed the same event) yields its journaled outcome and no write; the rest
  // are applied on top of the other writer's state.
  return writes.map((w) => w.before._id);
}

function pairs(events: readonly StoredEventDoc[], steps: readonly ContactStep[]): [StoredEventDoc, ContactStep][] {
  return events.map((event, i) => [event, steps[i]!]);
}
