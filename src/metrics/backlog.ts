import { BULK_LANE, LANE_NAMES, LANES, type Lane } from '../domain/lane.js';
import type { Models, OutboxEntry } from '../persistence/models.js';
import { heldByBulk } from '../persistence/outbox.js';

/**
 * The outbox backlog by ESP and delivery lane (domain/lane.ts), for the metrics and the contact
 * view. Only queries of mongo-compat.md §7: countDocuments and find with equality, `$in`, `$nin`,
 * `$exists` and `$lt`, sort and limit. An entry written before lanes existed has no `lane`; it is
 * pushed as bulk (lane 3), so it is counted as bulk here too.
 */

type Filter = Record<string, unknown>;

/** The lane an entry is pushed in (a missing lane is bulk). */
export function entryLane(entry: Pick<OutboxEntry, 'lane'>): Lane {
  return entry.lane ?? BULK_LANE;
}

/** Contacts with a pending entry for `esp` in `lane`. */
export function laneFilter(esp: string, lane: Lane): Filter {
  const field = `outbox.${esp}.lane`;
  if (lane !== BULK_LANE) return { [field]: lane };
  const urgent = LANES.filter((l) => l !== BULK_LANE);
  return { [`outbox.${esp}.version`]: { $exists: true }, [field]: { $nin: urgent } };
}

/**
 * The filters whose counts add up to the entries ahead of one in `lane` pending since `since` at
 * `esp`: every entry of a more urgent lane, and those of the same lane pending since earlier.
 * (The two filters never match the same contact.)
 */
export function aheadFilters(esp: string, lane: Lane, since: Date): Filter[] {
  const sameLaneOlder = { ...laneFilter(esp, lane), [`outbox.${esp}.since`]: { $lt: since } };
  const urgent = LANES.filter((l) => l < lane);
  if (urgent.length === 0) return [sameLaneOlder];
  return [{ [`outbox.${esp}.lane`]: { $in: urgent } }, sameLaneOlder];
}

/**
 * How many contacts are pending at `esp` before one in `lane` pending since `since`. An
 * estimate: entries come and go while the counts run, a claimed entry may already be in flight,
 * and the workers push batches of one lane concurrently rather than strictly one by one.
 */
export async function countAhead(models: Models, esp: string, lane: Lane, since: Date): Promise<number> {
  const counts = await Promise.all(aheadFilters(esp, lane, since).map((f) => models.contacts.countDocuments(f as never)));
  return counts.reduce((sum, n) => sum + n, 0);
}

export interface PendingPush extends OutboxEntry {
  lane: Lane;
  laneName: string;
  /** Contacts pending at this ESP before this one: more urgent lanes, then older in the same lane. */
  placeInLine: { ahead: number; estimate: true; text: string };
  /** The bulk (services/esp-sync/bulk.ts) that holds the contact: it is pushed once the ESP has run that bulk. */
  inBulk?: string;
}

/** One pending entry as the contact view shows it: its lane by number and name, and its place in line. */
export async function pendingPush(models: Models, esp: string, entry: OutboxEntry, nowMs = Date.now()): Promise<PendingPush> {
  const lane = entryLane(entry);
  const since = entry.since instanceof Date ? entry.since : new Date(entry.since);
  const ahead = Number.isNaN(since.getTime()) ? 0 : await countAhead(models, esp, lane, since);
  const view: PendingPush = { ...entry, lane, laneName: LANE_NAMES[lane], placeInLine: placeInLine(ahead) };
  if (heldByBulk(entry, nowMs) && entry.claimBy) {
    view.inBulk = entry.claimBy;
    view.placeInLine = { ...view.placeInLine, text: `waits for ${entry.claimBy}, which ${esp} has not run yet; pushed as soon as it has` };
  }
  return view;
}

export function placeInLine(ahead: number): PendingPush['placeInLine'] {
  return { ahead, estimate: true, text: `about ${ahead} ahead` };
}
