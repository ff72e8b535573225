import type { ConsentPolicy, EffectiveState } from './consent.js';
import { isRecipientSource } from './resolve.js';

/**
 * Delivery lanes by legal weight. At every ESP a waiting push of a lower number goes before one
 * of a higher number: a person's unsubscribe is the law, an import is commerce.
 *
 * - 1 `person`: a new opt-out (marketing on any channel, or a tracking refusal) that the person
 *   made themselves: a recipient source (unsubscribe link, List-Unsubscribe one-click, preference
 *   centre, SMS STOP, app settings) or an unsubscribe an ESP reported (`esp:<name>`).
 * - 2 `optout`: any other new opt-out (an API call, a form, an imported suppression list), and
 *   a repair that re-sends a state holding an opt-out.
 * - 3 `bulk`: everything else: opt-ins, reactivations, authority-only changes, imports, repairs.
 */
export type Lane = 1 | 2 | 3;

export const LANES: readonly Lane[] = [1, 2, 3];

export const LANE_NAMES: Readonly<Record<Lane, string>> = { 1: 'person', 2: 'optout', 3: 'bulk' };

/** The lowest lane: what a change carries when nothing makes it urgent. */
export const BULK_LANE: Lane = 3;

function optedOut(state: EffectiveState): Set<string> {
  const out = new Set<string>();
  for (const [channel, decision] of Object.entries(state.marketing)) if (decision.state === 'opted_out') out.add(channel);
  if (state.tracking.state === 'opted_out') out.add('\u0000tracking');
  return out;
}

/** True when `next` refuses something `previous` did not: a channel's marketing or tracking. */
export function addsOptOut(previous: EffectiveState, next: EffectiveState): boolean {
  const before = optedOut(previous);
  for (const refused of optedOut(next)) if (!before.has(refused)) return true;
  return false;
}

/** The lane of one change of effective state, caused by an event from `source`. */
export function laneOfChange(source: string, previous: EffectiveState, next: EffectiveState, policy: ConsentPolicy): Lane {
  if (!addsOptOut(previous, next)) return 3;
  return isRecipientSource(source, policy) ? 1 : 2;
}

/**
 * The lane an event will most likely take, known before it is applied (from what it says, not
 * from what it changes): apply jobs are queued by it, so a person's opt-out is applied before an
 * import waiting in the same queue. The lane of the push is decided later by laneOfChange.
 */
export function laneOfEvent(event: { value: string; source: string }, policy: ConsentPolicy): Lane {
  if (event.value !== 'opt_out') return 3;
  return isRecipientSource(event.source, policy) ? 1 : 2;
}

/** The lane of a repair that re-sends the current state (reconciliation, dead-letter replay). */
export function laneOfRepair(state: EffectiveState): Lane {
  return optedOut(state).size > 0 ? 2 : 3;
}

/**
 * A pending push takes the most urgent lane of the changes it carries. A push always sends the
 * contact's current state, so a newer state rides in the same entry as the older one and is
 * never held back behind it; an entry's lane only rises while it waits.
 */
export function mergeLane(pending: Lane | undefined, next: Lane): Lane {
  return pending === undefined ? next : (Math.min(pending, next) as Lane);
}
