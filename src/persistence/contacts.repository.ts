import { randomUUID } from 'node:crypto';
import type { ConsentPolicy, ContactIdentity } from '../domain/index.js';
import { identityKeys, resolve } from '../domain/index.js';
import { type ContactDoc, isDuplicateKeyError, type Models } from './models.js';
import { readByIds } from './read-by-ids.js';

/**
 * Finds the contact an identity belongs to, creating it when none exists. Every read is an
 * `_id` lookup (identity key → contact id), a primary-key read. Concurrent creators race on the identity's primary key:
 * the loser re-reads and joins the winner's contact, so one person never becomes two contacts.
 */
export async function resolveContactId(
  models: Models,
  identity: ContactIdentity,
  policy: ConsentPolicy,
  now: Date,
): Promise<string> {
  const keys = identityKeys(identity);
  for (let attempt = 0; attempt < 5; attempt++) {
    const owners = await Promise.all(keys.map((key) => models.identities.findById(key).lean()));
    // The externalId decides when identities point at different contacts: it is the strongest.
    const owner = owners.find((o) => o !== null);
    // The common case: every identity already points at one contact; nothing to write.
    if (owner && owners.every((o) => o?.contactId === owner.contactId)) return owner.contactId;
    const contactId = owner?.contactId ?? randomUUID();
    if (!owner) {
      try {
        await models.identities.create({ _id: keys[0]!, contactId });
      } catch (err) {
        if (isDuplicateKeyError(err)) continue;
        throw err;
      }
    }
    await ensureContactDocument(models, contactId, identity, policy, now);
    const conflicts: string[] = [];
    for (const [i, key] of keys.entries()) {
      const existing = owners[i];
      if (existing && existing.contactId !== contactId) conflicts.push(key.split(':')[0]!);
      if (existing || (key === keys[0] && !owner)) continue;
      try {
        await models.identities.create({ _id: key, contactId });
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        const winner = await models.identities.findById(key).lean();
        if (winner && winner.contactId !== contactId) conflicts.push(key.split(':')[0]!);
      }
    }
    await linkIdentities(models, contactId, identity, conflicts);
    return contactId;
  }
  throw new Error('could not resolve the contact after 5 attempts (identity keys kept changing)');
}

export async function ensureContactDocument(
  models: Models,
  contactId: string,
  identity: ContactIdentity,
  policy: ConsentPolicy,
  now: Date,
): Promise<void> {
  try {
    await upsertContactShell(models, contactId, identity, policy, now);
  } catch (err) {
    // Two workers creating the same contact at once: the loser's upsert hits the primary key.
    if (!isDuplicateKeyError(err)) throw err;
  }
}

/** A contact as it is before its first event: no listings, nothing to push. */
function contactShell(contactId: string, identity: ContactIdentity, policy: ConsentPolicy, now: Date): ContactDoc {
  return {
    _id: contactId,
    identities: identity,
    listings: [],
    effective: resolve([], policy),
    version: 0,
    rev: 0,
    outbox: {},
    sync: {},
    journal: [],
    createdAt: now,
    updatedAt: now,
  };
}

async function upsertContactShell(
  models: Models,
  contactId: string,
  identity: ContactIdentity,
  policy: ConsentPolicy,
  now: Date,
): Promise<void> {
  const { _id, ...shell } = contactShell(contactId, identity, policy, now);
  await models.contacts.updateOne({ _id: contactId }, { $setOnInsert: shell }, { upsert: true });
}

/**
 * Creates many new people with a few commands in all, the steps resolveContactId takes for one:
 * first the first identity key of each (the claim: a concurrent creator of the same person
 * loses on its primary key), then the contact documents of the claims won, then their other
 * identity keys. Returns the contact id of each person created, by first key; a person whose
 * claim was lost is left out (the caller resolves it one at a time), and one whose other keys
 * someone else holds keeps them recorded as identity conflicts, as on the single path.
 */
export async function createContacts(
  models: Models,
  people: readonly ContactIdentity[],
  policy: ConsentPolicy,
  now: Date,
): Promise<Map<string, string>> {
  const planned = people.map((identity) => ({ identity, keys: identityKeys(identity), contactId: randomUUID() }));
  const claimed = await insertIdentities(models, planned.map((p) => ({ _id: p.keys[0]!, contactId: p.contactId })));
  const won = planned.filter((p) => claimed.has(p.keys[0]!));
  if (won.length === 0) return new Map();
  await models.contacts.insertMany(
    won.map((p) => contactShell(p.contactId, p.identity, policy, now)),
    { ordered: false, lean: true },
  );
  const others = won.flatMap((p) => p.keys.slice(1).map((key) => ({ _id: key, contactId: p.contactId })));
  const linked = await insertIdentities(models, others);
  for (const p of won) {
    const lost = p.keys.slice(1).filter((key) => !linked.has(key));
    if (lost.length > 0) await linkIdentities(models, p.contactId, p.identity, lost.map((key) => key.split(':')[0]!));
    for (const key of p.keys.filter((k) => k === p.keys[0] || linked.has(k))) models.owners.remember(key, p.contactId);
  }
  return new Map(won.map((p) => [p.keys[0]!, p.contactId]));
}

/** Inserts identity documents, keeping those that exist already; returns the keys that are now ours. */
async function insertIdentities(models: Models, docs: readonly { _id: string; contactId: string }[]): Promise<Set<string>> {
  if (docs.length === 0) return new Set();
  try {
    await models.identities.insertMany(docs, { ordered: false, lean: true });
    return new Set(docs.map((d) => d._id));
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    // Which inserts lost is read back rather than taken from the error, whose shape differs
    // between servers: a key is ours exactly when its document names our contact.
    const stored = await readByIds(models.identities, docs.map((d) => d._id));
    return new Set(docs.filter((d) => stored.get(d._id)?.contactId === d.contactId).map((d) => d._id));
  }
}

/** Records identities the contact gained (a lead that got an externalId stays one contact). */
async function linkIdentities(models: Models, contactId: string, identity: ContactIdentity, conflicts: string[]) {
  const set: Record<string, string> = {};
  for (const [field, value] of Object.entries(identity)) {
    if (value !== undefined) set[`identities.${field}`] = value;
  }
  const update: Record<string, unknown> = { $set: set };
  if (conflicts.length > 0) update['$addToSet'] = { identityConflicts: { $each: conflicts } };
  await models.contacts.updateOne({ _id: contactId }, update);
}

/**
 * Fills fields a document may lack (empty arrays and objects are not always written by
 * upserts on every MongoDB-protocol server), so callers never branch on missing fields.
 */
export function hydrateContact(doc: ContactDoc): ContactDoc {
  return {
    ...doc,
    identities: doc.identities ?? {},
    listings: doc.listings ?? [],
    outbox: doc.outbox ?? {},
    sync: doc.sync ?? {},
    journal: doc.journal ?? [],
    version: doc.version ?? 0,
    rev: doc.rev ?? 0,
  };
}

export async function loadContact(models: Models, contactId: string): Promise<ContactDoc | null> {
  const doc = await models.contacts.findById(contactId).lean();
  return doc ? hydrateContact(doc) : null;
}

/** The contact an identity belongs to: the first key (externalId, email, phone) with an owner decides. */
export async function findContactIdByIdentity(models: Models, identity: ContactIdentity): Promise<string | null> {
  for (const key of identityKeys(identity)) {
    const owner = await models.identities.findById(key).lean();
    if (owner) return owner.contactId;
  }
  return null;
}

/** Identity key → contact id, for the keys that have an owner (reads only; creates nothing). */
export async function findIdentityOwners(
  models: Models,
  keys: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const unknown: string[] = [];
  for (const key of keys) {
    const cached = models.owners.get(key);
    if (cached === undefined) unknown.push(key);
    else found.set(key, cached);
  }
  for (const [key, owner] of await readByIds(models.identities, unknown)) {
    models.owners.remember(key, owner.contactId);
    found.set(key, owner.contactId);
  }
  return found;
}

/**
 * Contacts by id with only the given top-level or dotted fields (plus `_id`), lean. Fields the
 * projection names may be absent from what is returned; callers must not assume hydration.
 */
export async function findContactsProjected<T extends { _id: string }>(
  models: Models,
  ids: readonly string[],
  fields: readonly string[],
): Promise<Map<string, T>> {
  const projection = Object.fromEntries(fields.map((f) => [f, 1 as const]));
  return (await readByIds(models.contacts, ids, projection)) as unknown as Map<string, T>;
}
