import {
  ALL_CHANNELS,
  type ApplyOutcome,
  CONSENT_KINDS,
  CONSENT_VALUES,
  type ConsentEvent,
  type ConsentPolicy,
  type Decision,
  type EffectiveState,
  type Listing,
  type ListingRef,
  TRACKING_CHANNEL,
} from './consent.js';
import { parseMoment } from './moment.js';
import { canonicalListings, compareListings, isForced, listingKey, resolveCanonical } from './resolve.js';

export interface ApplyResult {
  outcome: ApplyOutcome;
  /** Canonical (see canonicalListings): compare two results with deep equality. */
  listings: Listing[];
  previous: EffectiveState;
  next: EffectiveState;
  /** The effective state of any channel or of tracking changed; drives `version` and the outbox. */
  stateChanged: boolean;
  /** Marketing channels whose state changed, plus TRACKING_CHANNEL when tracking changed. */
  changedChannels: string[];
  /** For `optin_blocked`: the listing that decided the opted_out state. */
  blockedBy?: ListingRef;
  /** For `rejected`: why, without personal data (it ends up in logs and the audit trail). */
  rejectReason?: string;
  /** The listing-key channels the event addressed (empty for `no_channel` and some rejections). */
  targetChannels: string[];
}

/** 'all' → every configured channel; tracking → [TRACKING_CHANNEL]; a marketing event without channel → []. */
export function expandChannels(event: ConsentEvent, policy: ConsentPolicy): string[] {
  if (event.kind === 'tracking') return [TRACKING_CHANNEL];
  if (event.channel === undefined) return [];
  if (event.channel === ALL_CHANNELS) return [...new Set(policy.channels)];
  return [event.channel];
}

/**
 * Future-dated policy: a moment later than `receivedAt + policy.maxFutureSkewMs` is clamped to
 * `receivedAt`. Listings are ordered by moment, so an event dated far ahead (a client with a wrong
 * clock, or someone gaming the order) would beat every genuine event until that date arrived —
 * including a later unsubscribe. Clamping is chosen over rejecting because rejecting could lose an
 * opt-out; the caller records `clamped` in the audit trail. Moments in the past are never changed.
 * Throws RangeError when either input is not a valid ISO-8601 instant with a zone.
 */
export function clampFutureMoment(
  moment: string,
  receivedAt: string,
  policy: ConsentPolicy,
): { moment: string; clamped: boolean } {
  const at = parseMoment(moment);
  const received = parseMoment(receivedAt);
  if (at === undefined) throw new RangeError('moment is not an ISO-8601 instant with a zone');
  if (received === undefined) throw new RangeError('receivedAt is not an ISO-8601 instant with a zone');
  const limitMs = received.epochMs + policy.maxFutureSkewMs;
  const beyond = at.epochMs > limitMs || (at.epochMs === limitMs && at.subMsNanos > received.subMsNanos);
  return beyond ? { moment: receivedAt, clamped: true } : { moment, clamped: false };
}

/**
 * Applies one event to a contact's listings (product.md §1 and §2). Pure: the caller persists
 * `listings` with a guard on the previous version, and audits `outcome`.
 */
export function applyEvent(
  listings: readonly Listing[],
  event: ConsentEvent,
  policy: ConsentPolicy,
): ApplyResult {
  const current = canonicalListings(listings);
  const previous = resolveCanonical(current, policy);
  const unchanged = (outcome: ApplyOutcome, extra: Partial<ApplyResult> = {}): ApplyResult => ({
    outcome,
    listings: current,
    previous,
    next: previous,
    stateChanged: false,
    changedChannels: [],
    targetChannels: [],
    ...extra,
  });

  const invalid = invalidEventReason(event);
  if (invalid !== undefined) return unchanged('rejected', { rejectReason: invalid });

  const targetChannels = expandChannels(event, policy);
  if (targetChannels.length === 0) {
    // CrossEngage: an opt-out without a channel "does nothing"; it is audited, never guessed at.
    if (event.channel === undefined) return unchanged('no_channel');
    return unchanged('rejected', { rejectReason: 'channel "all" but no channels are configured' });
  }
  const unknown =
    event.kind === 'marketing' ? targetChannels.filter((c) => !policy.channels.includes(c)) : [];
  if (unknown.length > 0) {
    return unchanged('rejected', { rejectReason: `unknown channel ${JSON.stringify(unknown[0])}` });
  }

  const { byKey, duplicates, replaced } = mergeEvent(current, event, targetChannels);
  if (replaced === 0) {
    // Some keys may hold this event and others a newer one (an 'all' event partly superseded):
    // it was applied before, so it is a duplicate.
    return unchanged(duplicates > 0 ? 'duplicate' : 'stale', { targetChannels });
  }

  const nextListings = canonicalListings([...byKey.values()]);
  const next = resolveCanonical(nextListings, policy);
  const changedChannels = diffStates(previous, next);
  const result: ApplyResult = {
    outcome: changedChannels.length > 0 ? 'applied' : 'no_change',
    listings: nextListings,
    previous,
    next,
    stateChanged: changedChannels.length > 0,
    changedChannels,
    targetChannels,
  };

  const blocked = blockedOptIn(event, policy, next, targetChannels);
  if (blocked !== undefined) {
    result.outcome = 'optin_blocked';
    if (blocked.decidedBy !== undefined) result.blockedBy = blocked.decidedBy;
  }
  return result;
}

/**
 * The event's listing on each target channel, kept where it beats the held one (compareListings).
 * The eventId is the idempotency key: a re-delivery is a duplicate even if its body differs.
 */
function mergeEvent(current: readonly Listing[], event: ConsentEvent, targetChannels: readonly string[]) {
  const byKey = new Map(current.map((l) => [listingKey(l), l]));
  let duplicates = 0;
  let replaced = 0;
  for (const channel of targetChannels) {
    const candidate: Listing = {
      kind: event.kind,
      channel,
      source: event.source,
      value: event.value,
      force: event.force,
      moment: event.moment,
      eventId: event.eventId,
    };
    const key = listingKey(candidate);
    const held = byKey.get(key);
    if (held?.eventId === event.eventId) duplicates += 1;
    else if (held === undefined || compareListings(candidate, held) > 0) {
      byKey.set(key, candidate);
      replaced += 1;
    }
  }
  return { byKey, duplicates, replaced };
}

/**
 * Rule 4: the opt-in is recorded (it may count later, e.g. once a force is removed) but the
 * person must learn that it did not take effect and what would (a forced opt-in): the decision
 * that keeps a target channel opted out, or undefined.
 */
function blockedOptIn(
  event: ConsentEvent,
  policy: ConsentPolicy,
  next: EffectiveState,
  targetChannels: readonly string[],
) {
  if (event.value !== 'opt_in' || isForced(event, policy)) return undefined;
  return targetChannels
    .map((channel) => decisionFor(next, event.kind, channel))
    .find((d) => d?.state === 'opted_out');
}

function decisionFor(
  state: EffectiveState,
  kind: ConsentEvent['kind'],
  channel: string,
): Decision | undefined {
  if (kind === 'tracking') return state.tracking;
  return Object.hasOwn(state.marketing, channel) ? state.marketing[channel] : undefined;
}

function diffStates(previous: EffectiveState, next: EffectiveState): string[] {
  const channels = new Set([...Object.keys(previous.marketing), ...Object.keys(next.marketing)]);
  const changed = [...channels].filter(
    (c) => decisionFor(previous, 'marketing', c)?.state !== decisionFor(next, 'marketing', c)?.state,
  );
  if (previous.tracking.state !== next.tracking.state) changed.push(TRACKING_CHANNEL);
  return changed;
}

/** Guards the domain against values the type system cannot see (data read back from storage, JS callers). */
function invalidEventReason(event: ConsentEvent): string | undefined {
  if (typeof event.eventId !== 'string' || event.eventId === '') return 'missing eventId';
  if (!CONSENT_KINDS.includes(event.kind)) return 'invalid kind';
  if (!CONSENT_VALUES.includes(event.value)) return 'invalid value';
  if (typeof event.source !== 'string' || event.source === '') return 'missing source';
  if (typeof event.force !== 'boolean') return 'invalid force';
  if (parseMoment(event.moment) === undefined) return 'invalid moment (ISO-8601 with a zone required)';
  if (event.channel !== undefined && typeof event.channel !== 'string') return 'invalid channel';
  return undefined;
}
