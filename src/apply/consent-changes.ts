import type { AuditDoc, Models } from '../persistence/models.js';

export interface ChangesPage {
  records: ConsentChange[];
  nextCursor: string | undefined;
}

/** An audit record as exported: the eventId by name, times as ISO strings, internals left out. */
export type ConsentChange = Omit<AuditDoc, '_id' | 'received' | 'applied' | 'momentClamped' | 'previous' | 'next' | 'blockedBy'> & {
  eventId: string;
  received: string;
  applied: string;
};

function encodeCursor(applied: Date, id: string): string {
  return Buffer.from(JSON.stringify([applied.toISOString(), id])).toString('base64url');
}

export function decodeCursor(cursor: string): { applied: Date; id: string } {
  try {
    const [applied, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const date = new Date(applied);
    if (typeof id !== 'string' || Number.isNaN(date.getTime())) throw new Error('bad cursor');
    return { applied: date, id };
  } catch {
    throw new RangeError('cursor is not one this API returned');
  }
}

/** The exported form of one audit record (the compliance export and a contact's history share it). */
export function toConsentChange({ _id, received, applied, momentClamped: _m, previous: _p, next: _n, blockedBy: _b, ...rest }: AuditDoc): ConsentChange {
  return { eventId: _id, ...rest, received: received.toISOString(), applied: applied.toISOString() };
}

/**
 * Every audit record applied at or after `since` (all when absent), or only one contact's, oldest
 * first, read through one cursor: an export of any size streams in constant memory.
 */
export async function* consentHistory(models: Pick<Models, 'audit'>, opts: { contactId?: string; since?: Date }): AsyncGenerator<ConsentChange> {
  const filter = {
    ...(opts.contactId !== undefined ? { contactId: opts.contactId } : {}),
    ...(opts.since ? { applied: { $gte: opts.since } } : {}),
  };
  const cursor = models.audit.find(filter).sort({ applied: 1, _id: 1 }).lean<AuditDoc[]>().cursor();
  try {
    for await (const doc of cursor) yield toConsentChange(doc as AuditDoc);
  } finally {
    await cursor.close();
  }
}

/**
 * The compliance export: every audit record applied after `since`, oldest first, paged by a
 * cursor on (applied, eventId) so records sharing a timestamp are neither skipped nor repeated.
 */
export async function consentChanges(models: Models, opts: { since: Date; cursor?: string; limit: number }): Promise<ChangesPage> {
  const after = opts.cursor ? decodeCursor(opts.cursor) : undefined;
  const filter = after
    ? { $or: [{ applied: { $gt: after.applied } }, { applied: after.applied, _id: { $gt: after.id } }] }
    : { applied: { $gte: opts.since } };
  const docs = await models.audit.find(filter).sort({ applied: 1, _id: 1 }).limit(opts.limit + 1).lean();
  const page = docs.slice(0, opts.limit);
  const last = page.at(-1);
  return {
    records: page.map(toConsentChange),
    nextCursor: docs.length > opts.limit && last ? encodeCursor(last.applied, last._id) : undefined,
  };
}
