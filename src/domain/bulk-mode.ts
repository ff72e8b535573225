/**
 * Bulk mode (issue #21 item 3): when an ESP's lane-3 backlog would take longer than a setting to
 * drain at its per-call budget, lane 3 goes to the ESP's documented bulk path (an asynchronous
 * import), and back to per-call pushes once the backlog is small. Pure rules; the service that
 * applies them is services/esp-sync/bulk.ts.
 */

/**
 * Bulk mode ends only when the backlog would drain in this fraction of the threshold: an import
 * that hovers around the threshold would otherwise flip the ESP in and out of bulk mode on every
 * check, and each bulk costs one of Actito's 12 imports a day.
 */
export const BULK_MODE_EXIT_FRACTION = 0.25;

/** Seconds to push `backlog` contacts at `contactsPerSecond` (infinite when the budget is zero). */
export function drainSeconds(backlog: number, contactsPerSecond: number): number {
  if (backlog <= 0) return 0;
  return contactsPerSecond > 0 ? backlog / contactsPerSecond : Number.POSITIVE_INFINITY;
}

/**
 * Contacts a second lane 3 can push at the per-call budget: the calls a second left after lane
 * 1's reserve, times the contacts one call carries.
 */
export function laneThreeContactsPerSecond(budget: {
  calls: number;
  perMs: number;
  reservePercent: number;
  contactsPerCall: number;
}): number {
  const calls = budget.calls - Math.ceil((budget.calls * budget.reservePercent) / 100);
  return (Math.max(0, calls) * 1_000 * Math.max(1, budget.contactsPerCall)) / budget.perMs;
}

/**
 * Whether lane 3 should be in bulk mode after this check. Enters when the backlog would take
 * longer than `afterSeconds`; leaves when it would take at most BULK_MODE_EXIT_FRACTION of that.
 * `afterSeconds` 0 means never.
 */
export function nextBulkMode(on: boolean, backlogSeconds: number, afterSeconds: number): boolean {
  if (afterSeconds <= 0) return false;
  if (!on) return backlogSeconds > afterSeconds;
  return backlogSeconds > afterSeconds * BULK_MODE_EXIT_FRACTION;
}

/**
 * What happens to one contact of a bulk once the ESP has reported it processed (or failed, or it
 * was given up): the entry's state is what it is now in MongoDB.
 * - `acknowledge`: the entry still holds the version the bulk carried, under the bulk's claim; the
 *   ESP has it (processed), so the entry is done.
 * - `push-again`: the contact changed after it went into the bulk (a newer version under the
 *   bulk's claim), or the bulk did not land: its current state goes out in its own lane. Only
 *   now, after the ESP reported the bulk: a newer state pushed while the bulk was pending could
 *   be overwritten by the bulk's older one when the import runs, hours later.
 * - `nothing`: no entry any more, or another push holds it (the bulk's claim ran out).
 */
export type BulkDisposition = 'acknowledge' | 'push-again' | 'nothing';

export function bulkDisposition(
  bulk: { token: string; processed: boolean },
  sentVersion: number,
  entry: { version: number; claimBy?: string | undefined } | undefined,
): BulkDisposition {
  if (!entry || entry.claimBy !== bulk.token) return 'nothing';
  return bulk.processed && entry.version === sentVersion ? 'acknowledge' : 'push-again';
}
