import { randomUUID } from 'node:crypto';
import type { ConsentPolicy, ContactIdentity } from '../domain/index.js';
import { identityKeys, resolve } from '../domain/index.js';
import { type ContactDoc, isDuplicateKeyError, type Models } from './models.js';
import { type BatchReadOptions, readByIds } from './read-by-ids.js';

/**
 * Finds the contact an identity belongs to, creating it when none exists. Every read is an
 * `_id` lookup (identity key → contact id), which is a primary-key read on MongoDB and the
 * one filter FerretDB pushes down. Concurrent creators race on the identity's primary key:
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

async function ensureContactDocument(
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

async function upsertContactShell(
  models: Models,
  contactId: string,
  identity: ContactIdentity,
  policy: ConsentPolicy,
  now: Date,
): Promise<void> {
  await models.contacts.updateOne(
    { _id: contactId },
    {
      $setOnInsert: {
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
      },
    },
    { upsert: true },
  );
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
  options: BatchReadOptions,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const unknown: string[] = [];
  for (const key of keys) {
    const cached = models.owners.get(key);
    if (cached === undefined) unknown.push(key);
    else found.set(key, cached);
  }
  for (const [key, owner] of await readByIds(models.identities, unknown, options)) {
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
  options: BatchReadOptions,
): Promise<Map<string, T>> {
  const projection = Object.fromEntries(fields.map((f) => [f, 1 as const]));
  return (await readByIds(models.contacts, ids, options, projection)) as unknown as Map<string, T>;
}
