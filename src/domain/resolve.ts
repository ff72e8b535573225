import {
  CONSENT_KINDS,
  CONSENT_VALUES,
  type ConsentKind,
  type ConsentPolicy,
  type Decision,
  type EffectiveState,
  ESP_SOURCE_PREFIX,
  type Listing,
  type ListingRef,
  TRACKING_CHANNEL,
} from './consent.js';
import { compareMoments, compareText } from './moment.js';

const VALUE_RANK = { opt_in: 0, opt_out: 1 } as const;

/**
 * Total order on listings: moment, then opt_out above opt_in (ties must never re-subscribe
 * anyone), then the larger eventId. The remaining keys only separate inconsistent inputs (two
 * different listings sharing an eventId); they keep the order total so that canonical output is
 * deterministic whatever the input order.
 */
export function compareListings(a: Listing, b: Listing): number {
  return (
    compareMoments(a.moment, b.moment) ||
    rank(a) - rank(b) ||
    compareText(a.eventId, b.eventId) ||
    compareText(a.moment, b.moment) ||
    Number(a.force) - Number(b.force) ||
    compareText(a.kind, b.kind) ||
    compareText(a.channel, b.channel) ||
    compareText(a.source, b.source)
  );
}

function rank(listing: Listing): number {
  return Object.hasOwn(VALUE_RANK, listing.value) ? VALUE_RANK[listing.value] : -1;
}

/** The person acting themselves; ESP-reported unsubscribes (`esp:<name>`) are the person acting at the ESP. */
export function isRecipientSource(source: string, policy: ConsentPolicy): boolean {
  return source.startsWith(ESP_SOURCE_PREFIX) || policy.recipientSources.includes(source);
}

export function canForce(source: string, policy: ConsentPolicy): boolean {
  return policy.forceSources === 'any' || policy.forceSources.includes(source);
}

/** A force from a source the policy does not trust is kept in the listing but not honoured. */
export function isForced(listing: Pick<Listing, 'force' | 'source'>, policy: ConsentPolicy): boolean {
  return listing.force === true && canForce(listing.source, policy);
}

/**
 * The listing's (kind, channel, source) as one map key. Length prefixes keep it unambiguous for
 * any strings, and cost a fraction of the JSON.stringify of an array that every listing of every
 * applied event went through (several times per event); JSON remains for values that are not
 * strings (data read back from storage), and cannot be confused with the other form.
 */
export function listingKey(listing: Pick<Listing, 'kind' | 'channel' | 'source'>): string {
  const { kind, channel, source } = listing;
  if (typeof kind === 'string' && typeof channel === 'string' && typeof source === 'string') {
    return `${kind.length}:${kind}${channel.length}:${channel}${source}`;
  }
  return JSON.stringify([kind, channel, source]);
}

function compareByKey(a: Listing, b: Listing): number {
  return compareText(a.kind, b.kind) || compareText(a.channel, b.channel) || compareText(a.source, b.source);
}

/**
 * One listing per (kind, channel, source) — the latest by compareListings — sorted by key, so two
 * equal sets of listings are deep-equal whatever order or duplication they arrived in.
 */
export function canonicalListings(listings: readonly Listing[]): Listing[] {
  const latest = new Map<string, Listing>();
  for (const listing of listings) {
    const key = listingKey(listing);
    const held = latest.get(key);
    if (held === undefined || compareListings(listing, held) > 0) latest.set(key, listing);
  }
  return [...latest.values()].sort(compareByKey).map((l) => ({ ...l }));
}

export function resolve(listings: readonly Listing[], policy: ConsentPolicy): EffectiveState {
  return resolveCanonical(canonicalListings(listings), policy);
}

/** resolve() of listings that are already canonical (canonicalListings' output), without redoing that. */
export function resolveCanonical(listings: readonly Listing[], policy: ConsentPolicy): EffectiveState {
  const groups = new Map<string, Listing[]>();
  for (const listing of listings) {
    if (!CONSENT_KINDS.includes(listing.kind) || !CONSENT_VALUES.includes(listing.value)) continue;
    const key = groupKey(listing.kind, listing.channel);
    const group = groups.get(key);
    if (group) group.push(listing);
    else groups.set(key, [listing]);
  }

  // Channels that have listings but are no longer configured are still reported: dropping them
  // would hide an opt-out the moment someone edits the channel list.
  const channels = [...new Set(policy.channels)];
  const extra = new Set<string>();
  for (const listing of listings) {
    if (listing.kind === 'marketing' && !channels.includes(listing.channel)) extra.add(listing.channel);
  }
  channels.push(...[...extra].sort(compareText));

  const marketing = Object.fromEntries(
    channels.map((channel) => [channel, decide(groups.get(groupKey('marketing', channel)) ?? [], policy)]),
  );
  return { marketing, tracking: decide(groups.get(groupKey('tracking', TRACKING_CHANNEL)) ?? [], policy) };
}

/** As listingKey, for (kind, channel). */
function groupKey(kind: ConsentKind, channel: string): string {
  return typeof kind === 'string' && typeof channel === 'string' ? `${kind.length}:${kind}${channel}` : JSON.stringify([kind, channel]);
}

/** product.md §1 rules 1–4 for the listings of one (kind, channel), one listing per source. */
function decide(listings: readonly Listing[], policy: ConsentPolicy): Decision {
  const ref = (l: Listing): ListingRef => toRef(l, policy);
  const recipient = (l: Listing): boolean => isRecipientSource(l.source, policy);
  const optOuts = listings.filter((l) => l.value === 'opt_out');
  const optIns = listings.filter((l) => l.value === 'opt_in');
  const blockedOptIns = (): ListingRef[] =>
    optIns
      .filter((i) => optOuts.every((o) => compareListings(i, o) > 0))
      .sort(compareListings)
      .map(ref);

  const forcedWinner = latest(listings.filter((l) => isForced(l, policy)));
  if (forcedWinner !== undefined) {
    // Rule 1 (Ometria's enhanced force opt-in): the newest forced listing wins; compareListings
    // already puts opt_out above opt_in on equal moments.
    if (forcedWinner.value === 'opt_out') {
      return {
        state: 'opted_out',
        reason: 'forced_opt_out',
        decidedBy: ref(forcedWinner),
        authoritative: true,
        blockedOptIns: blockedOptIns(),
      };
    }
    // Rule 2: the person's own objection newer than the forced opt-in wins — a decision made before
    // they objected never overrides them.
    const objection = latest(optOuts.filter((o) => recipient(o) && compareListings(o, forcedWinner) > 0));
    if (objection !== undefined) {
      return {
        state: 'opted_out',
        reason: 'recipient_objection',
        decidedBy: ref(objection),
        authoritative: true,
        blockedOptIns: blockedOptIns(),
        overrides: ref(forcedWinner),
      };
    }
    return {
      state: 'opted_in',
      reason: 'forced_opt_in',
      decidedBy: ref(forcedWinner),
      authoritative: true,
      blockedOptIns: [],
    };
  }

  // Rule 3: any opt-out wins. A recipient's opt-out is named in preference because it is the one
  // that makes the suppression authoritative at the ESPs and the one a remedy must get past.
  const decider = latest(optOuts.filter(recipient)) ?? latest(optOuts);
  if (decider !== undefined) {
    return {
      state: 'opted_out',
      reason: 'opt_out_priority',
      decidedBy: ref(decider),
      authoritative: recipient(decider),
      blockedOptIns: blockedOptIns(),
    };
  }

  // The newest opt-in is named, not a recipient one: calling a re-subscription authoritative makes
  // adapters force it at the ESP, so it is not preferred the way an opt-out is.
  const optIn = latest(optIns);
  if (optIn !== undefined) {
    return {
      state: 'opted_in',
      reason: 'opt_in',
      decidedBy: ref(optIn),
      authoritative: recipient(optIn),
      blockedOptIns: [],
    };
  }
  return { state: 'unknown', reason: 'no_listing', authoritative: false, blockedOptIns: [] };
}

function latest(listings: readonly Listing[]): Listing | undefined {
  let best: Listing | undefined;
  for (const l of listings) if (best === undefined || compareListings(l, best) > 0) best = l;
  return best;
}

/** `force` in a ref is the force as honoured under the policy, which is what the decision used. */
export function toRef(listing: Listing, policy: ConsentPolicy): ListingRef {
  return {
    source: listing.source,
    moment: listing.moment,
    eventId: listing.eventId,
    force: isForced(listing, policy),
    value: listing.value,
  };
}
