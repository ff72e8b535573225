import { applyEvent, type ConsentPolicy, identityKeys } from '../../src/domain/index.js';
import { ESP_NAMES } from '../../src/esp/registry.js';
import type { ContactDoc, IdentityDoc, Models } from '../../src/persistence/models.js';
import { summariseState } from '../../src/persistence/models.js';
import { contactIdentity } from './events.js';

/**
 * Contact documents as the worker writes them (listings and effective state from the domain
 * rules, a journal entry, every ESP synced), for seeding MongoDB directly with insertMany.
 */
export function seedContact(
  i: number,
  policy: ConsentPolicy,
  at: Date,
  email: 'opted_out' | 'opted_in',
): { contact: ContactDoc; identities: IdentityDoc[] } {
  const identity = contactIdentity(i);
  const contactId = `seed-${String(i).padStart(8, '0')}`;
  const moment = new Date(at.getTime() - 86_400_000).toISOString();
  const event =
    email === 'opted_out'
      ? { eventId: `seed-${i}`, kind: 'marketing' as const, channel: 'email', value: 'opt_out' as const, source: 'list_unsubscribe', force: false, moment }
      : { eventId: `seed-${i}`, kind: 'marketing' as const, channel: 'email', value: 'opt_in' as const, source: 'form', force: false, moment };
  const result = applyEvent([], event, policy);
  const sync: ContactDoc['sync'] = {};
  for (const esp of ESP_NAMES) sync[esp] = { status: 'synced', version: 1, outcome: 'pushed', at };
  const contact: ContactDoc = {
    _id: contactId,
    identities: identity,
    listings: result.listings,
    effective: result.next,
    version: 1,
    rev: 2,
    outbox: {},
    sync,
    journal: [
      {
        eventId: event.eventId,
        outcome: result.outcome,
        previous: summariseState(result.previous),
        next: summariseState(result.next),
        version: 1,
        appliedAt: at,
      },
    ],
    createdAt: at,
    updatedAt: at,
  };
  const identities = identityKeys(identity).map((key) => ({ _id: key, contactId }));
  return { contact, identities };
}

/** Inserts `count` contacts (and their identity keys) in batches; `drift(i)` picks who is opted in. */
export async function seedContacts(
  models: Models,
  policy: ConsentPolicy,
  count: number,
  drift: (i: number) => boolean,
  onProgress: (done: number) => void = () => {},
  batch = 2_000,
): Promise<void> {
  const at = new Date();
  for (let from = 0; from < count; from += batch) {
    const contacts: ContactDoc[] = [];
    const identities: IdentityDoc[] = [];
    for (let i = from; i < Math.min(count, from + batch); i++) {
      const seeded = seedContact(i, policy, at, drift(i) ? 'opted_in' : 'opted_out');
      contacts.push(seeded.contact);
      identities.push(...seeded.identities);
    }
    // The raw collections: seeding measures nothing of mongoose's casting.
    await models.contacts.collection.insertMany(contacts as never[], { ordered: false });
    await models.identities.collection.insertMany(identities as never[], { ordered: false });
    onProgress(Math.min(count, from + batch));
  }
}
