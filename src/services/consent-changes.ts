import type { AuditDoc, Models } from '../persistence/models.js';

export interface ChangesPage {
  records: ConsentChange[];
  nextCursor: string | undefined;
}

export interface ConsentChange {
  eventId: string;
  contactId?: string;
  identity: AuditDoc['identity'];
  kind: string;
  channel?: string;
  value: string;
  force: boolean;
  source: string;
  way?: Record<string, string>;
  proof?: Record<string, string>;
  moment: string;
  received: string;
  applied: string;
  outcome: string;
  reason?: string;
  version?: number;
}

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
    records: page.map((d) => ({
      eventId: d._id,
      ...(d.contactId ? { contactId: d.contactId } : {}),
      identity: d.identity,
      kind: d.kind,
      ...(d.channel ? { channel: d.channel } : {}),
      value: d.value,
      force: d.force,
      source: d.source,
      ...(d.way ? { way: d.way } : {}),
      ...(d.proof ? { proof: d.proof } : {}),
      moment: d.moment,
      received: d.received.toISOString(),
      applied: d.applied.toISOString(),
      outcome: d.outcome,
      ...(d.reason ? { reason: d.reason } : {}),
      ...(d.version !== undefined ? { version: d.version } : {}),
    })),
    nextCursor: docs.length > opts.limit && last ? encodeCursor(last.applied, last._id) : undefined,
  };
}
