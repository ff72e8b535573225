import {
  applyEvent,
  type ConsentEvent,
  type ConsentPolicy,
  type EffectiveState,
  type ListingRef,
} from '../domain/index.js';
import { loadContact, resolveContactId } from '../persistence/contacts.repository.js';
import type { AuditDoc, ContactDoc, JournalEntry, Models, OutboxEntry, StoredEventDoc } from '../persistence/models.js';
import { guardedUpdateById } from '../persistence/guarded-update.js';
import { isDuplicateKeyError, summariseState } from '../persistence/models.js';

/**
 * Long enough to outlive any retry of a crashed job (a stalled job is retried within seconds),
 * short enough to keep contact documents small: every guarded update reads the document.
 */
export const JOURNAL_LENGTH = 10;
const MAX_CONFLICT_RETRIES = 20;

export interface ApplyDeps {
  models: Models;
  policy: ConsentPolicy;
  /** ESPs that receive this contact's state: each state change leaves one outbox entry per ESP. */
  connectedEsps: () => readonly string[];
  now: () => Date;
  /** Serialises writers of one contact (see ContactLocks); the rev guard stays the safety net. */
  withContactLock: <T>(contactId: string, fn: () => Promise<T>) => Promise<T>;
}

export interface ApplyJobResult {
  eventId: string;
  outcome: string;
  contactId?: string;
  version?: number;
  stateChanged: boolean;
  reason?: string;
}

export class UnknownEventError extends Error {
  constructor(readonly eventId: string) {
    super(`stored event ${eventId} does not exist`);
    this.name = 'UnknownEventError';
  }
}

function toDomainEvent(stored: StoredEventDoc): ConsentEvent {
  return {
    eventId: stored._id,
    kind: stored.kind,
    ...(stored.channel !== undefined ? { channel: stored.channel } : {}),
    value: stored.value,
    source: stored.source,
    force: stored.force,
    moment: stored.moment,
  };
}

/**
 * What ESPs receive is the state *and* whether it is authoritative (forced or the person's own
 * act: Ometria's @force_optin). A forced re-opt-in of someone already opted in changes only the
 * latter, and must still be pushed, or an ESP-side unsubscribe would never be overridden.
 */
function authorityChanged(previous: EffectiveState, next: EffectiveState): boolean {
  if (previous.tracking.authoritative !== next.tracking.authoritative) return true;
  return Object.keys(next.marketing).some((c) => previous.marketing[c]?.authoritative !== next.marketing[c]?.authoritative);
}

function hasNewOptOut(previous: EffectiveState, next: EffectiveState): boolean {
  const channels = Object.keys(next.marketing);
  const marketing = channels.some(
    (c) => next.marketing[c]?.state === 'opted_out' && previous.marketing[c]?.state !== 'opted_out',
  );
  return marketing || (next.tracking.state === 'opted_out' && previous.tracking.state !== 'opted_out');
}

/**
 * Applies one stored event to its contact: exactly once in effect, whatever the number of
 * deliveries or concurrent workers. The contact changes in one single-document update guarded
 * by `rev` (optimistic concurrency, no transactions); the outcome is journaled inside that same
 * update, so a worker that crashes before writing the audit record audits the original outcome
 * on retry instead of "duplicate". The audit record's primary key is the eventId, so there is
 * exactly one per event.
 */
export async function applyStoredEvent(eventId: string, deps: ApplyDeps): Promise<ApplyJobResult> {
  const { models } = deps;
  const stored = await models.events.findById(eventId).lean();
  if (!stored) throw new UnknownEventError(eventId);
  if (stored.status === 'done') {
    return { eventId, outcome: stored.outcome ?? 'duplicate', ...(stored.contactId ? { contactId: stored.contactId } : {}), stateChanged: false };
  }

  const contactId = await resolveContactId(models, stored.contact, deps.policy, deps.now());
  const event = toDomainEvent(stored);

  const { audit, stateChanged } = await deps.withContactLock(contactId, () => applyToContact(contactId, eventId, event, deps));
  await writeAudit(models, stored, audit);
  await models.events.updateOne(
    { _id: eventId },
    { $set: { status: 'done', outcome: audit.outcome, contactId, appliedAt: audit.applied } },
  );
  return {
    eventId,
    outcome: audit.outcome,
    contactId,
    ...(audit.version !== undefined ? { version: audit.version } : {}),
    stateChanged,
    ...(audit.reason ? { reason: audit.reason } : {}),
  };
}

type AuditPart = Omit<AuditDoc, '_id' | 'received' | 'identity' | 'moment' | 'momentClamped' | 'kind' | 'value' | 'force' | 'source'>;

async function applyToContact(
  contactId: string,
  eventId: string,
  event: ConsentEvent,
  deps: ApplyDeps,
): Promise<{ audit: AuditPart; stateChanged: boolean }> {
  const { models } = deps;
  let audit: AuditPart;
  let stateChanged = false;
  for (let attempt = 0; ; attempt++) {
    if (attempt >= MAX_CONFLICT_RETRIES) throw new Error(`contact ${contactId} kept changing; retrying the job`);
    const contact = await loadContact(models, contactId);
    if (!contact) throw new Error(`contact ${contactId} vanished`);
    const journal = contact.journal.find((j) => j.eventId === eventId);
    if (journal) {
      audit = auditFromJournal(contactId, journal);
      // Re-announce the change: the crash may have come before the ESP pushes were enqueued.
      stateChanged = JSON.stringify(journal.previous) !== JSON.stringify(journal.next);
      break;
    }
    const now = deps.now();
    const result = applyEvent(contact.listings, event, deps.policy);
    const listingsChanged = result.outcome === 'applied' || result.outcome === 'no_change' || result.outcome === 'optin_blocked';
    if (!listingsChanged) {
      // duplicate, stale, no_channel, rejected: the contact is untouched, and the same inputs
      // give the same outcome on any retry, so nothing needs journaling.
      audit = {
        contactId,
        applied: now,
        previous: summariseState(result.previous),
        next: summariseState(result.next),
        version: contact.version,
        outcome: result.outcome,
        ...(result.rejectReason ? { reason: result.rejectReason } : {}),
      };
      break;
    }
    const pushable = result.stateChanged || authorityChanged(result.previous, result.next);
    const version = pushable ? contact.version + 1 : contact.version;
    const entry: JournalEntry = {
      eventId,
      outcome: result.outcome,
      previous: summariseState(result.previous),
      next: summariseState(result.next),
      version,
      appliedAt: now,
      ...(result.blockedBy ? { blockedBy: result.blockedBy } : {}),
    };
    const set: Record<string, unknown> = {
      listings: result.listings,
      effective: result.next,
      version,
      updatedAt: now,
      journal: [...contact.journal, entry].slice(-JOURNAL_LENGTH),
    };
    if (pushable) Object.assign(set, outboxUpdates(contact, version, now, hasNewOptOut(result.previous, result.next), deps.connectedEsps()));
    const updated = await guardedUpdateById(models.contacts, contactId, { rev: contact.rev }, { $set: set, $inc: { rev: 1 } }, models.atomicGuards);
    if (!updated) continue; // another worker changed the contact first: recompute
    stateChanged = pushable;
    audit = auditFromJournal(contactId, entry);
    break;
  }

  return { audit, stateChanged };
}

function auditFromJournal(contactId: string, j: JournalEntry) {
  return {
    contactId,
    applied: j.appliedAt,
    previous: j.previous,
    next: j.next,
    version: j.version,
    outcome: j.outcome,
    ...(j.blockedBy ? { blockedBy: j.blockedBy, reason: blockedReason(j.blockedBy) } : {}),
  };
}

function blockedReason(by: ListingRef): string {
  return `opted out by ${by.source} at ${by.moment} (event ${by.eventId}); only a forced opt-in (e.g. a double-opt-in confirmation) can lift it`;
}

function outboxUpdates(contact: ContactDoc, version: number, now: Date, optOut: boolean, esps: readonly string[]) {
  const set: Record<string, OutboxEntry | unknown> = {};
  for (const esp of esps) {
    const pending = contact.outbox[esp];
    set[`outbox.${esp}`] = {
      version,
      // The SLO clock runs from the first unpushed change, not from the latest one.
      since: pending?.since ?? now,
      optOut: optOut || (pending?.optOut ?? false),
    } satisfies OutboxEntry;
    set[`sync.${esp}.status`] = 'pending';
    set[`sync.${esp}.version`] = version;
  }
  return set;
}

async function writeAudit(models: Models, stored: StoredEventDoc, audit: AuditPart) {
  const record: AuditDoc = {
    _id: stored._id,
    identity: stored.contact,
    kind: stored.kind,
    ...(stored.channel !== undefined ? { channel: stored.channel } : {}),
    value: stored.value,
    force: stored.force,
    source: stored.source,
    ...(stored.way ? { way: stored.way } : {}),
    ...(stored.proof ? { proof: stored.proof } : {}),
    moment: stored.moment,
    momentClamped: stored.momentClamped,
    received: stored.receivedAt,
    ...audit,
  };
  try {
    await models.audit.create(record);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
}

