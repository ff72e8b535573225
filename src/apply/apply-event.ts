import {
  addsOptOut,
  applyEvent,
  type ConsentEvent,
  type ConsentPolicy,
  type EffectiveState,
  type Lane,
  type ListingRef,
  laneOfChange,
  mergeLane,
} from '../domain/index.js';
import { ensureContactDocument, loadContact, resolveContactId } from '../persistence/contacts.repository.js';
import type { AuditDoc, ContactDoc, JournalEntry, Models, OutboxEntry, StoredEventDoc } from '../persistence/models.js';
import { isDuplicateKeyError, summariseState } from '../persistence/models.js';
import { laneOfEntry, mergeUpdates, pendingFields } from '../persistence/outbox.js';
import { journalOverflow, trimJournal, unsettledEvents } from './journal.js';

const MAX_CONFLICT_RETRIES = 20;

export interface ApplyDeps {
  models: Models;
  policy: ConsentPolicy;
  /** ESPs that receive this contact's state: each state change leaves one outbox entry per ESP. */
  connectedEsps: () => readonly string[];
  now: () => Date;
}

export interface ApplyJobResult {
  eventId: string;
  outcome: string;
  contactId?: string;
  version?: number;
  stateChanged: boolean;
  reason?: string;
  /** Per ESP, the lane its pending push now carries (set when stateChanged). */
  lanes?: Record<string, Lane>;
}

export class UnknownEventError extends Error {
  constructor(readonly eventId: string) {
    super(`stored event ${eventId} does not exist`);
    this.name = 'UnknownEventError';
  }
}

export function toDomainEvent(stored: StoredEventDoc): ConsentEvent {
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

/**
 * Applies one stored event to its contact: exactly once in effect, whatever the number of
 * deliveries or concurrent workers. The contact changes in one single-document update guarded
 * by `rev` (optimistic concurrency, no transactions); the outcome is journaled inside that same
 * update, so a worker that crashes before writing the audit record audits the original outcome
 * on retry instead of "duplicate". The audit record's primary key is the eventId, so there is
 * exactly one per event. Batches of events take the same steps (apply-batch.ts); this is the
 * path for one event, and the batch's fallback when a contact is contended.
 */
export async function applyStoredEvent(eventId: string, deps: ApplyDeps): Promise<ApplyJobResult> {
  const { models } = deps;
  const stored = await models.events.findById(eventId).lean();
  if (!stored) throw new UnknownEventError(eventId);
  if (stored.status === 'done') return alreadyDone(stored);

  const contactId = await resolveContactId(models, stored.contact, deps.policy, deps.now());
  const step = await applyToContact(contactId, stored, deps);
  await writeAudits(models, [auditRecord(stored, step.audit)]);
  await models.events.updateOne({ _id: eventId }, { $set: doneFields(step.audit) });
  return jobResult(stored._id, step);
}

/**
 * An event already applied. Its job may be the retry of one whose worker died after marking it
 * done and before queueing the pushes, so an applied event announces its contact again: a push
 * that finds nothing pending costs one read, a push never queued would wait for the sweeper.
 */
export function alreadyDone(stored: StoredEventDoc): ApplyJobResult {
  return {
    eventId: stored._id,
    outcome: stored.outcome ?? 'duplicate',
    ...(stored.contactId ? { contactId: stored.contactId } : {}),
    stateChanged: stored.outcome === 'applied' && stored.contactId !== undefined,
  };
}

export function jobResult(eventId: string, step: ContactStep): ApplyJobResult {
  const { audit } = step;
  return {
    eventId,
    outcome: audit.outcome,
    contactId: audit.contactId,
    ...(audit.version !== undefined ? { version: audit.version } : {}),
    stateChanged: step.stateChanged,
    ...(audit.reason ? { reason: audit.reason } : {}),
    ...(step.stateChanged && step.lanes ? { lanes: step.lanes } : {}),
  };
}

export function doneFields(audit: AuditPart) {
  return { status: 'done' as const, outcome: audit.outcome, contactId: audit.contactId, appliedAt: audit.applied };
}

export type AuditPart = Omit<AuditDoc, '_id' | 'received' | 'identity' | 'moment' | 'momentClamped' | 'kind' | 'value' | 'force' | 'source'> & {
  contactId: string;
};

export interface ContactStep {
  audit: AuditPart;
  /** What ESPs receive changed (state or authority): the contact's version moved. */
  stateChanged: boolean;
  /** The contact after the event; absent when the document stays as it was. */
  contact?: ContactDoc;
  /** Per ESP, the lane of its pending push after this step. */
  lanes?: Record<string, Lane>;
}

export interface StepContext {
  policy: ConsentPolicy;
  now: Date;
  esps: readonly string[];
}

/**
 * One event against an in-memory contact, with no I/O: the single path writes its result at
 * once, a batch chains the steps of one contact's events and writes the last.
 */
export function stepContact(contact: ContactDoc, stored: StoredEventDoc, ctx: StepContext): ContactStep {
  const contactId = contact._id;
  const journal = contact.journal.find((j) => j.eventId === stored._id);
  if (journal) {
    // Re-announce the change: the crash may have come before the ESP pushes were enqueued.
    return {
      audit: auditFromJournal(contactId, journal),
      stateChanged: JSON.stringify(journal.previous) !== JSON.stringify(journal.next),
      lanes: pendingLanes(contact.outbox, ctx.esps),
    };
  }
  const result = applyEvent(contact.listings, toDomainEvent(stored), ctx.policy);
  const listingsChanged = result.outcome === 'applied' || result.outcome === 'no_change' || result.outcome === 'optin_blocked';
  if (!listingsChanged) {
    // duplicate, stale, no_channel, rejected: the contact is untouched, and the same inputs
    // give the same outcome on any retry, so nothing needs journaling.
    return {
      stateChanged: false,
      audit: {
        contactId,
        applied: ctx.now,
        previous: summariseState(result.previous),
        next: summariseState(result.next),
        version: contact.version,
        outcome: result.outcome,
        ...(result.rejectReason ? { reason: result.rejectReason } : {}),
      },
    };
  }
  const pushable = result.stateChanged || authorityChanged(result.previous, result.next);
  const version = pushable ? contact.version + 1 : contact.version;
  const entry: JournalEntry = {
    eventId: stored._id,
    outcome: result.outcome,
    previous: summariseState(result.previous),
    next: summariseState(result.next),
    version,
    appliedAt: ctx.now,
    ...(result.blockedBy ? { blockedBy: result.blockedBy } : {}),
  };
  const next: ContactDoc = {
    ...contact,
    listings: result.listings,
    effective: result.next,
    version,
    updatedAt: ctx.now,
    journal: [...contact.journal, entry],
    outbox: pushable
      ? pendingOutbox(contact.outbox, {
          version,
          now: ctx.now,
          optOut: addsOptOut(result.previous, result.next),
          lane: laneOfChange(stored.source, result.previous, result.next, ctx.policy),
          esps: ctx.esps,
        })
      : contact.outbox,
  };
  return {
    audit: auditFromJournal(contactId, entry),
    stateChanged: pushable,
    contact: next,
    ...(pushable ? { lanes: pendingLanes(next.outbox, ctx.esps) } : {}),
  };
}

function pendingLanes(outbox: ContactDoc['outbox'], esps: readonly string[]): Record<string, Lane> {
  const lanes: Record<string, Lane> = {};
  for (const esp of esps) lanes[esp] = laneOfEntry(outbox[esp]);
  return lanes;
}

/**
 * The update that turns `before` into `after` (its filter guards `rev`). Outbox entries are set
 * field by field (persistence/outbox.ts), never as whole objects, so an acknowledgement or a
 * push's claim written meanwhile for any ESP is not undone. The journal keeps every entry this
 * write adds, and older entries of `unsettled` events (journal.ts).
 */
export function contactChanges(before: ContactDoc, after: ContactDoc, esps: readonly string[], unsettled: ReadonlySet<string>) {
  const contact = {
    $set: {
      listings: after.listings,
      effective: after.effective,
      version: after.version,
      updatedAt: after.updatedAt,
      journal: trimJournal(before.journal, after.journal, unsettled),
    },
  };
  const pending =
    after.version === before.version
      ? []
      : esps.map((esp) => {
          const entry = after.outbox[esp]!;
          return pendingFields(esp, { version: entry.version, since: entry.since, optOut: entry.optOut, lane: laneOfEntry(entry) });
        });
  return { ...mergeUpdates([contact, ...pending]), $inc: { rev: 1 } };
}

async function applyToContact(contactId: string, stored: StoredEventDoc, deps: ApplyDeps): Promise<ContactStep> {
  const { models } = deps;
  for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt++) {
    const contact = await loadContact(models, contactId);
    if (!contact) {
      // Its creator died between claiming the first identity and writing the document: without
      // the shell every later event of this person would fail.
      await ensureContactDocument(models, contactId, stored.contact, deps.policy, deps.now());
      continue;
    }
    const esps = deps.connectedEsps();
    const step = stepContact(contact, stored, { policy: deps.policy, now: deps.now(), esps });
    if (!step.contact) return step;
    const unsettled = await unsettledEvents(models, journalOverflow(contact.journal, step.contact.journal));
    const result = await models.contacts.updateOne(
      { _id: contactId, rev: contact.rev },
      contactChanges(contact, step.contact, esps, unsettled) as never,
    );
    if (result.matchedCount > 0) return step;
    // another worker changed the contact first: recompute
  }
  throw new Error(`contact ${contactId} kept changing; retrying the job`);
}

function auditFromJournal(contactId: string, j: JournalEntry): AuditPart {
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

function pendingOutbox(
  outbox: ContactDoc['outbox'],
  change: { version: number; now: Date; optOut: boolean; lane: Lane; esps: readonly string[] },
): ContactDoc['outbox'] {
  const next = { ...outbox };
  for (const esp of change.esps) {
    const pending = outbox[esp];
    next[esp] = {
      ...pending,
      version: change.version,
      // The SLO clock runs from the first unpushed change, not from the latest one.
      since: pending?.since ?? change.now,
      optOut: change.optOut || (pending?.optOut ?? false),
      lane: mergeLane(pending?.lane, change.lane),
    } satisfies OutboxEntry;
  }
  return next;
}

export function auditRecord(stored: StoredEventDoc, audit: AuditPart): AuditDoc {
  return {
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
}

/** One insert for many records; a record that already exists (a retried event) is kept as it is. */
export async function writeAudits(models: Models, records: readonly AuditDoc[]): Promise<void> {
  if (records.length === 0) return;
  try {
    await models.audit.insertMany(records, { ordered: false, lean: true });
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
}
