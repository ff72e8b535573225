import { type ContactIdentity, explainSuppression } from '../domain/index.js';
import { pendingPush } from '../metrics/backlog.js';
import { findContactIdByIdentity, loadContact } from '../persistence/contacts.repository.js';
import type { Models } from '../persistence/models.js';

export class IdentityParseError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'IdentityParseError';
  }
}

/** `externalId:<id>`, `email:<address>` (+ businessUnit) or `phone:<e164>` → an identity. */
export function parseIdentityParam(raw: string, businessUnit?: string): ContactIdentity {
  const colon = raw.indexOf(':');
  const type = colon > 0 ? raw.slice(0, colon) : '';
  const value = raw.slice(colon + 1).trim();
  if (!value) throw new IdentityParseError('identity', 'must be externalId:<id>, email:<address> or phone:<e164>');
  switch (type) {
    case 'externalId':
      return { externalId: value };
    case 'email':
      return businessUnit ? { email: value, businessUnit } : { email: value };
    case 'phone':
      return { phone: value };
    default:
      throw new IdentityParseError('identity', `unknown identity type '${type}'; use externalId:, email: or phone:`);
  }
}

/** The per-contact view: what we hold, why, and where each ESP stands. */
export async function contactView(models: Models, identity: ContactIdentity, auditLimit = 50) {
  const contactId = await findContactIdByIdentity(models, identity);
  return contactId ? contactViewById(models, contactId, auditLimit) : null;
}

/** The per-contact view by contact id: what links (Bull Board jobs, dead letters) carry, never PII. */
export async function contactViewById(models: Models, contactId: string, auditLimit = 50) {
  // The audit before the contact: every path writes an event's audit record after its contact
  // update, so the contact read second is at least as new as every entry shown with it.
  const audit = await models.audit.find({ contactId }).sort({ applied: -1 }).limit(auditLimit).lean();
  const contact = await loadContact(models, contactId);
  if (!contact) return null;
  const effective = {
    marketing: Object.fromEntries(Object.entries(contact.effective.marketing).map(([c, d]) => [c, d.state])),
    tracking: contact.effective.tracking.state,
  };
  return {
    contactId: contact._id,
    identities: contact.identities,
    version: contact.version,
    effective,
    decisions: contact.effective,
    suppressed: explainSuppression(contact.effective),
    listings: contact.listings,
    // A pending push shows its lane and its place in line at that ESP (counts: see metrics/backlog.ts).
    sync: Object.fromEntries(
      await Promise.all(
        Object.entries(contact.sync).map(async ([esp, s]) => {
          const entry = contact.outbox[esp];
          return [esp, { ...s, pending: entry ? await pendingPush(models, esp, entry) : null }] as const;
        }),
      ),
    ),
    identityConflicts: contact.identityConflicts ?? [],
    // Where an ESP holds this person's state when it is not the obvious identity (CrossEngage lead).
    espIdentities: contact.espIdentities ?? {},
    audit: audit.map(({ _id, ...rest }) => ({ eventId: _id, ...rest })),
    createdAt: contact.createdAt,
    updatedAt: contact.updatedAt,
  };
}

export type ContactView = NonNullable<Awaited<ReturnType<typeof contactViewById>>>;
