import type { JournalEntry, Models } from '../persistence/models.js';
import { readByIds } from '../persistence/read-by-ids.js';

/**
 * The journal is what makes a retried apply idempotent with the right audit: an event found in
 * it is audited with the outcome and version it had, not stepped again. An event not found is
 * stepped again, and an event that was already applied then comes out as `duplicate` at the
 * contact's current version: its audit record would lose what the event did.
 *
 * So an entry may leave only once its event is settled (status `done`: audited and marked). The
 * last JOURNAL_LENGTH entries always stay; an older one stays while its event is unsettled, which
 * is the case when its job crashed between the contact write and the audit and has not been
 * retried yet. Count alone was not enough: during a MongoDB outage a retried job comes back after
 * its backoff, and by then other jobs can have journaled more than ten events of a busy contact
 * (seen in the mongo-kill chaos test: the event that made version 2 audited as `duplicate` at
 * version 4).
 */
export const JOURNAL_LENGTH = 10;

/**
 * Upper bound on a journal, unsettled entries included: keeps a contact document bounded if its
 * events stay unsettled for good (a stuck apply queue). Beyond it the oldest leave anyway, and a
 * much later retry of one of them audits it as `duplicate`, as before unsettled entries were kept.
 */
export const JOURNAL_CAP = 100;

/**
 * How many of the newest entries a write keeps whatever their events' status: JOURNAL_LENGTH, or
 * every entry the write adds (`after` is `before` with the write's entries appended).
 */
function window(before: readonly JournalEntry[], after: readonly JournalEntry[]): number {
  return Math.max(JOURNAL_LENGTH, after.length - before.length);
}

/** Event ids of the entries beyond the window: the ones a write may drop once settled. */
export function journalOverflow(before: readonly JournalEntry[], after: readonly JournalEntry[]): string[] {
  return after.slice(0, Math.max(0, after.length - window(before, after))).map((j) => j.eventId);
}

/**
 * The journal a write stores: every entry of the window (which holds every entry this write
 * adds), plus older entries whose events are unsettled, in their order, at most JOURNAL_CAP
 * entries in all (the newest kept).
 */
export function trimJournal(before: readonly JournalEntry[], after: readonly JournalEntry[], unsettled: ReadonlySet<string>): JournalEntry[] {
  const keep = window(before, after);
  const cut = Math.max(0, after.length - keep);
  const kept = [...after.slice(0, cut).filter((j) => unsettled.has(j.eventId)), ...after.slice(cut)];
  return kept.slice(-Math.max(JOURNAL_CAP, keep));
}

/** Which of these events are not settled yet (not `done`); an event not stored counts as settled. */
export async function unsettledEvents(models: Models, eventIds: readonly string[]): Promise<Set<string>> {
  if (eventIds.length === 0) return new Set();
  const stored = await readByIds(models.events, [...new Set(eventIds)], { status: 1 });
  return new Set([...stored].filter(([, e]) => e.status !== 'done').map(([id]) => id));
}
