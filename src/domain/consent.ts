/**
 * The consent vocabulary. These words are used with these meanings in file, type and log names.
 *
 * - Contact: one person, reachable through one or more identities (externalId, email +
 *   businessUnit, phone). A lead is a contact known only by email.
 * - Kind: `marketing` (may we send marketing on a channel?) or `tracking` (may we record opens,
 *   clicks, devices, visits?). The two are never mixed: refusing tracking leaves marketing as is.
 * - Channel: a canonical delivery channel (`email`, `sms`, `push` by default). `all` in an event
 *   means every configured channel. Tracking has no channel; its listings use TRACKING_CHANNEL.
 * - Event: one statement "this source said opt_in/opt_out at this moment" with an idempotency
 *   key (eventId). Events are the input; they are never edited.
 * - Source: who or what produced the event (`unsubscribe_link`, `import`, `esp:ometria`, …).
 *   A recipient source is the person acting themselves; their objection outranks everything older.
 * - Listing: the latest event per (kind, channel, source). "Latest" is by moment, never by arrival
 *   order, so any delivery order of the same events yields the same listings.
 * - Force: a listing that wins over every non-forced listing (Ometria's `@force_optin`), used for
 *   deliberate re-opt-ins such as a double-opt-in confirmation.
 * - Decision: the effective value of one (kind, channel) and the rule and listing that produced it.
 * - Effective state: the decisions for every configured channel plus tracking.
 * - Suppression: a contact that may not receive marketing on a channel (decision opted_out, or a
 *   hard suppression such as a blocklist, hard bounce or complaint).
 * - Outcome: what applying one event did (`applied`, `duplicate`, `stale`, …); it goes to the audit trail.
 * - Drift: an ESP whose suppression state differs from ours (handled outside this folder).
 */

export type ConsentKind = 'marketing' | 'tracking';
export type ConsentValue = 'opt_in' | 'opt_out';
export type EffectiveValue = 'opted_in' | 'opted_out' | 'unknown';

/** A canonical channel name from the configured list (default `['email', 'sms', 'push']`). */
export type Channel = string;

/** Listing-key channel for tracking consent, which is per contact rather than per channel. */
export const TRACKING_CHANNEL = '-';

/** Event channel value meaning "every configured channel". */
export const ALL_CHANNELS = 'all';

export const CONSENT_KINDS: readonly ConsentKind[] = ['marketing', 'tracking'];
export const CONSENT_VALUES: readonly ConsentValue[] = ['opt_in', 'opt_out'];

export interface ContactIdentity {
  externalId?: string;
  email?: string;
  businessUnit?: string;
  phone?: string;
}

/** A validated, normalised event. The wire format and its validation live outside the domain. */
export interface ConsentEvent {
  eventId: string;
  kind: ConsentKind;
  channel?: Channel | 'all';
  value: ConsentValue;
  source: string;
  force: boolean;
  /** When the person acted, ISO-8601 with a zone designator (normally UTC, `Z`). */
  moment: string;
}

export interface Listing {
  kind: ConsentKind;
  /** A channel, or TRACKING_CHANNEL for tracking listings. */
  channel: string;
  source: string;
  value: ConsentValue;
  force: boolean;
  moment: string;
  eventId: string;
}

export interface ListingRef {
  source: string;
  moment: string;
  eventId: string;
  force: boolean;
  value: ConsentValue;
}

/**
 * Which rule of product.md §1 decided. The reason names the rule, not the source: a plain
 * list-unsubscribe without any forced listing is `opt_out_priority` (rule 3), while
 * `recipient_objection` means the safety rule overrode a forced opt-in (rule 2).
 */
export type DecisionReason =
  | 'forced_opt_in'
  | 'forced_opt_out'
  | 'recipient_objection'
  | 'opt_out_priority'
  | 'opt_in'
  | 'no_listing';

export interface Decision {
  state: EffectiveValue;
  reason: DecisionReason;
  decidedBy?: ListingRef;
  /** true when the deciding listing is forced or from a recipient source (ESPs like Ometria need @force_optin then) */
  authoritative: boolean;
  /**
   * Opt-ins newer than every opt-out of this channel that nevertheless did not count: the person's
   * latest wish was to opt in, but only a forced opt-in can lift the opt-out (product.md §1 rule 4).
   */
  blockedOptIns: ListingRef[];
  /** For `recipient_objection`: the forced opt-in that the objection overrode. */
  overrides?: ListingRef;
}

export interface EffectiveState {
  marketing: Record<Channel, Decision>;
  tracking: Decision;
}

export interface ConsentPolicy {
  channels: Channel[];
  /** Sources where the person acts themselves; any source starting with `esp:` counts as well. */
  recipientSources: string[];
  /** Sources whose `force: true` is honoured; a force from any other source is treated as not forced. */
  forceSources: string[] | 'any';
  /** Per channel: `opt_out` = send unless opted out; `opt_in` = send only when opted in. Missing → `opt_out`. */
  model: Record<Channel, 'opt_out' | 'opt_in'>;
  /** How far an event's moment may lie beyond its receipt time before it is clamped. */
  maxFutureSkewMs: number;
}

export const ESP_SOURCE_PREFIX = 'esp:';

export const DEFAULT_CHANNELS: readonly Channel[] = ['email', 'sms', 'push'];

export const DEFAULT_RECIPIENT_SOURCES: readonly string[] = [
  'unsubscribe_link',
  'list_unsubscribe',
  'preference_center',
  'sms_stop',
  'app_settings',
];

/**
 * Builds a complete policy. Channels without an explicit model get `opt_out`, the CrossEngage
 * default (no opt-in required), so a new channel never silently becomes unsendable.
 */
export function createPolicy(overrides: Partial<ConsentPolicy> = {}): ConsentPolicy {
  const channels = [...(overrides.channels ?? DEFAULT_CHANNELS)];
  const model: Record<Channel, 'opt_out' | 'opt_in'> = {};
  for (const channel of channels) model[channel] = 'opt_out';
  Object.assign(model, overrides.model ?? {});
  const forceSources = overrides.forceSources ?? 'any';
  return {
    channels,
    recipientSources: [...(overrides.recipientSources ?? DEFAULT_RECIPIENT_SOURCES)],
    forceSources: forceSources === 'any' ? 'any' : [...forceSources],
    model,
    maxFutureSkewMs: overrides.maxFutureSkewMs ?? 5 * 60 * 1000,
  };
}

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) {
    if (typeof inner === 'object' && inner !== null) deepFreeze(inner);
  }
  return Object.freeze(value);
}

/**
 * Frozen because every module shares it: a test or caller that mutated it would silently change
 * the rules for everyone else. Use createPolicy() to derive a variant.
 */
export const defaultPolicy: ConsentPolicy = deepFreeze(createPolicy());

export type ApplyOutcome =
  | 'applied'
  | 'duplicate'
  | 'stale'
  | 'no_change'
  | 'optin_blocked'
  | 'no_channel'
  | 'rejected';
