import { createHash } from 'node:crypto';
import { type ConsentPolicy, clampFutureMoment, IdentityError, type Lane, laneOfEvent, normaliseIdentity } from '../domain/index.js';
import type { WireConsentEvent } from '../contracts/consent-event.js';
import type { Models, StoredEventDoc } from '../persistence/models.js';
import { isDuplicateKeyError } from '../persistence/models.js';
import { readByIds } from '../persistence/read-by-ids.js';

export interface FieldProblem {
  field: string;
  rule: string;
}

export class EventValidationError extends Error {
  constructor(readonly problems: readonly FieldProblem[]) {
    super(problems.map((p) => `${p.field}: ${p.rule}`).join('; '));
    this.name = 'EventValidationError';
  }
}

export type RecordStatus = 'accepted' | 'duplicate';

export interface RecordResult {
  eventId: string;
  status: RecordStatus;
}

export interface RecordDeps {
  models: Models;
  policy: ConsentPolicy;
  now: () => Date;
  /** Hands stored event ids, with their likely lane, to the apply queue; a failure here is recovered by the sweeper. */
  enqueueApply: (events: readonly { eventId: string; lane: Lane }[]) => Promise<void>;
  onEnqueueFailure: (err: unknown, eventIds: readonly string[]) => void;
  /**
   * Write concern of the insert the 202 waits for (MONGO_WRITE_CONCERN, MONGO_WRITE_JOURNAL,
   * MONGO_WRITE_TIMEOUT_MS): with `w: 'majority', journal: true` an acknowledged opt-out is on a
   * majority's journal and survives a replica-set failover. Unset: the deployment's default.
   */
  writeConcern?: { w: 'majority' | number; journal: boolean; wtimeoutMS: number };
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Turns validated wire events into stored documents; every problem is collected, none stored. */
export function prepareEvents(events: readonly WireConsentEvent[], policy: ConsentPolicy, receivedAt: Date, fieldPrefix: string) {
  const problems: FieldProblem[] = [];
  const docs: StoredEventDoc[] = [];
  const seen = new Map<string, number>();
  events.forEach((event, i) => {
    const at = fieldPrefix ? `${fieldPrefix}.${i}.` : '';
    const first = seen.get(event.eventId);
    if (first !== undefined) {
      problems.push({ field: `${at}eventId`, rule: `repeats the eventId of event ${first} in the same request` });
      return;
    }
    seen.set(event.eventId, i);
    let contact: StoredEventDoc['contact'];
    try {
      contact = normaliseIdentity(event.contact);
    } catch (err) {
      if (err instanceof IdentityError) {
        problems.push({ field: `${at}contact.${err.field}`, rule: err.message });
        return;
      }
      throw err;
    }
    if (event.kind === 'tracking' && event.channel !== undefined && event.channel !== 'all') {
      problems.push({ field: `${at}channel`, rule: 'tracking consent is per contact; leave channel out' });
      return;
    }
    const received = receivedAt.toISOString();
    const { moment, clamped } = clampFutureMoment(event.moment ?? received, received, policy);
    const body = {
      contact,
      kind: event.kind,
      ...(event.kind === 'marketing' && event.channel !== undefined ? { channel: event.channel } : {}),
      value: event.value,
      source: event.source,
      force: event.force,
      moment: event.moment ?? moment,
      ...(event.way ? { way: event.way } : {}),
      ...(event.proof ? { proof: event.proof } : {}),
      ...(event.properties ? { properties: event.properties } : {}),
    };
    // The fingerprint ignores receipt-time defaults so an honest retry of the same event matches.
    const fingerprint = createHash('sha256').update(canonicalJson({ ...body, moment: event.moment ?? null })).digest('hex');
    docs.push({ _id: event.eventId, ...body, moment, momentClamped: clamped, fingerprint, receivedAt, status: 'pending' });
  });
  return { docs, problems };
}

export class EventIdConflictError extends Error {
  constructor(readonly eventIds: readonly string[]) {
    super(`eventId already used for a different event: ${eventIds.join(', ')}`);
    this.name = 'EventIdConflictError';
  }
}

/**
 * Stores events durably, then enqueues them. Answering "accepted" only after the insert means an
 * acknowledged opt-out survives a Redis loss: the sweeper re-enqueues whatever is still pending.
 */
export async function recordEvents(
  events: readonly WireConsentEvent[],
  deps: RecordDeps,
  fieldPrefix = '',
): Promise<RecordResult[]> {
  const receivedAt = deps.now();
  const { docs, problems } = prepareEvents(events, deps.policy, receivedAt, fieldPrefix);
  if (problems.length > 0) throw new EventValidationError(problems);

  const existing = await readByIds(deps.models.events, docs.map((d) => d._id), { fingerprint: 1 });
  const known = new Map([...existing].map(([id, e]) => [id, e.fingerprint]));
  const conflicts = docs.filter((d) => known.has(d._id) && known.get(d._id) !== d.fingerprint).map((d) => d._id);
  if (conflicts.length > 0) throw new EventIdConflictError(conflicts);

  const fresh = docs.filter((d) => !known.has(d._id));
  const duplicates = new Set(docs.filter((d) => known.has(d._id)).map((d) => d._id));
  if (fresh.length > 0) {
    try {
      // Mongoose hands the options on to the driver's insertMany (writeConcern is the driver's option).
      const writeConcern = deps.writeConcern && {
        w: deps.writeConcern.w,
        journal: deps.writeConcern.journal,
        ...(deps.writeConcern.wtimeoutMS > 0 ? { wtimeoutMS: deps.writeConcern.wtimeoutMS } : {}),
      };
      await deps.models.events.insertMany(fresh, { ordered: false, ...(writeConcern ? { writeConcern } : {}) } as { ordered: boolean });
    } catch (err) {
      // A concurrent request stored the same eventId between our read and write: a duplicate.
      if (!isDuplicateKeyError(err)) throw err;
      const inserted = (err as { insertedDocs?: { _id: string }[] }).insertedDocs ?? [];
      const insertedIds = new Set(inserted.map((d) => d._id));
      for (const d of fresh) if (!insertedIds.has(d._id)) duplicates.add(d._id);
    }
  }
  // Duplicates are re-enqueued too: the first delivery may have been stored but never enqueued.
  const ids = docs.map((d) => d._id);
  try {
    await deps.enqueueApply(docs.map((d) => ({ eventId: d._id, lane: laneOfEvent(d, deps.policy) })));
  } catch (err) {
    deps.onEnqueueFailure(err, ids);
  }
  return docs.map((d) => ({ eventId: d._id, status: duplicates.has(d._id) ? 'duplicate' : 'accepted' }));
}
