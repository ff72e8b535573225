import type { Decision } from '../domain/index.js';
import type { RemoteSuppression } from '../esp/readback.js';

/**
 * The drift rules of product.md §4, pure. One rule above all: nothing here ever turns ESP
 * state into an opt-in — an ESP that says "subscribed" can only make us push our opt-out again.
 */
export type DriftType =
  | 'in_sync'
  | 'esp_unsubscribed'
  | 'lost_push'
  | 'push_not_stuck'
  | 'reactivation_pending'
  | 'unknown_contact'
  | 'esp_subscribed_we_unknown';

export type DriftAction = 'none' | 'ingest_opt_out' | 'repush' | 'push_reactivation';

export interface DriftDecision {
  type: DriftType;
  action: DriftAction;
}

function millis(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Compares what an ESP reports for one channel with our decision for it.
 * `ours` is undefined when we have no contact for the ESP's identity. `deliveredAt` is when our
 * current state was last acknowledged by this ESP, if it was: an unsubscribe log entry older than
 * that delivery (Ometria keeps its log) has already been answered by our reactivation.
 *
 * `push_not_stuck` is our own acknowledged push that the ESP does not hold, told apart from an
 * ESP-side unsubscribe because the repair differs: the person did nothing, so nothing is ingested
 * and our state is pushed again. When the ESP holds an opt-out against our acknowledged opt-in,
 * that is only said when the ESP dates its current record (`lastChangedAt`) and it has not changed
 * since before the decision we pushed: the opt-out our push should have replaced. Anything else
 * stays an ESP-side unsubscribe and is ingested, as mistaking a person's objection for our own
 * lost push would re-subscribe them; an ESP that does not date its state (CrossEngage) therefore
 * never reports an opt-in that did not stick.
 */
export function classifyDrift(
  remote: Pick<RemoteSuppression, 'state' | 'at' | 'lastChangedAt'>,
  ours: Decision | undefined,
  deliveredAt?: string,
): DriftDecision {
  const delivered = millis(deliveredAt);
  if (remote.state === 'opted_out') {
    // An unsubscribe at the ESP for someone we do not know is still an objection: ingest it.
    if (!ours) return { type: 'unknown_contact', action: 'ingest_opt_out' };
    if (ours.state === 'opted_out') return { type: 'in_sync', action: 'none' };
    const decided = ours.decidedBy;
    const ourMoment = millis(decided?.moment);
    const theirMoment = millis(remote.at);
    const olderThanOurs = ourMoment !== undefined && theirMoment !== undefined && ourMoment > theirMoment;
    const changed = millis(remote.lastChangedAt);
    if (ours.state === 'opted_in' && delivered !== undefined && ourMoment !== undefined && changed !== undefined && changed < ourMoment) {
      return { type: 'push_not_stuck', action: 'repush' };
    }
    if (ours.state === 'opted_in' && decided?.force === true && olderThanOurs) {
      // Our forced re-opt-in (e.g. a double-opt-in confirmation) is newer than their unsubscribe.
      if (delivered !== undefined && theirMoment !== undefined && delivered > theirMoment) return { type: 'in_sync', action: 'none' };
      return { type: 'reactivation_pending', action: 'push_reactivation' };
    }
    return { type: 'esp_unsubscribed', action: 'ingest_opt_out' };
  }
  // The ESP says subscribed: only our own opt-out matters; never re-subscribe from ESP state.
  if (!ours || ours.state === 'unknown') return { type: ours ? 'esp_subscribed_we_unknown' : 'unknown_contact', action: 'none' };
  if (ours.state === 'opted_out') return delivered !== undefined ? { type: 'push_not_stuck', action: 'repush' } : { type: 'lost_push', action: 'repush' };
  return { type: 'in_sync', action: 'none' };
}
