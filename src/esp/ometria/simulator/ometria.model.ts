/**
 * Ometria's subscription model (esp-contracts.md §5.3), pure: contact listings (`@collection` + `id`) carry
 * `marketing_optin` (email) and an SMS value; a profile's status per channel is derived from all its listings.
 *
 * Derivation per channel:
 * 1. If any listing holding a value is forced (`@force_optin`), the most recently forced value wins ("regardless of
 *    data in any other listings"; INFERENCE for several forced listings: "latest forced listing wins", §5.3).
 *    `@force_optin` is sticky on its listing ("only needs sending once") until `@force_optin: false` is sent.
 * 2. Otherwise `optout-wins` (DOC): any EXPLICITLY_OPTEDOUT listing keeps the contact opted out, else any
 *    EXPLICITLY_OPTEDIN opts in; or `hierarchy` (INFERENCE): the highest-precedence source decides, ties → opt-out.
 * 3. Only NOT_SPECIFIED values → NOT_SPECIFIED; no values → none.
 */
import { type OmetriaSource, SOURCE_RANK } from './ometria.options.js';

export const OPTED_IN = 'EXPLICITLY_OPTEDIN';
export const OPTED_OUT = 'EXPLICITLY_OPTEDOUT';
export const NOT_SPECIFIED = 'NOT_SPECIFIED';
/** DOC §5.2: EXPLICITLY_OPTEDIN / EXPLICITLY_OPTEDOUT; NOT_SPECIFIED is only in a client's allow-list [CODE]. */
export const MARKETING_VALUES = [OPTED_IN, OPTED_OUT, NOT_SPECIFIED] as const;
export type MarketingValue = (typeof MARKETING_VALUES)[number];
export type OmetriaChannel = 'email' | 'sms';

export interface ChannelValue {
  value: MarketingValue;
  /** Sequence number of the update that set this value while the listing was forced (0 = never forced). */
  forceSeq: number;
}

export interface Listing {
  collection: string;
  id: string;
  email: string | null;
  customerId: string | null;
  source: OmetriaSource;
  forced: boolean;
  /** True for the simulator's own listing holding acted-out unsubscribes (forced, preference-centre rank). */
  internal: boolean;
  values: Partial<Record<OmetriaChannel, ChannelValue>>;
  timestamps: { subscribed?: string; unsubscribed?: string; acquired?: string };
  fields: Record<string, unknown>;
  updated: Date;
}

export interface Derived {
  value: MarketingValue;
  /** `collection:id` of the deciding listing. */
  decidedBy: string;
  forced: boolean;
}

export const listingKey = (collection: string, id: string): string => `${collection}:${id}`;

export function derive(
  listings: readonly Listing[],
  channel: OmetriaChannel,
  rule: 'optout-wins' | 'hierarchy',
): Derived | null {
  const withValue = listings
    .map((l) => ({ l, v: l.values[channel] }))
    .filter((x): x is { l: Listing; v: ChannelValue } => x.v !== undefined && x.v.value !== NOT_SPECIFIED);
  const result = (l: Listing, value: MarketingValue, forced: boolean): Derived => ({
    value,
    decidedBy: listingKey(l.collection, l.id),
    forced,
  });

  const forced = withValue.filter((x) => x.v.forceSeq > 0 && x.l.forced);
  if (forced.length > 0) {
    const latest = forced.reduce((a, b) => (b.v.forceSeq > a.v.forceSeq ? b : a));
    return result(latest.l, latest.v.value, true);
  }
  if (withValue.length > 0) {
    let candidates = withValue;
    if (rule === 'hierarchy') {
      const best = Math.min(...withValue.map((x) => SOURCE_RANK[x.l.source]));
      candidates = withValue.filter((x) => SOURCE_RANK[x.l.source] === best);
    }
    const byRank = [...candidates].sort((a, b) => SOURCE_RANK[a.l.source] - SOURCE_RANK[b.l.source]);
    const out = byRank.find((x) => x.v.value === OPTED_OUT);
    if (out) return result(out.l, OPTED_OUT, false);
    const first = byRank[0];
    if (first) return result(first.l, OPTED_IN, false);
  }
  const unspecified = listings.find((l) => l.values[channel]?.value === NOT_SPECIFIED);
  return unspecified ? result(unspecified, NOT_SPECIFIED, false) : null;
}

/** Ometria's timestamp formats (e.g. `2018-04-19T09:00:00+00`) → Date; invalid → undefined. */
export function parseOmetriaTime(value: string): Date | undefined {
  const normalised = /[+-]\d{2}$/.test(value) ? `${value}:00` : value;
  const d = new Date(normalised);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** `2017-05-17 22:08:07+00` (the `/v2/unsubscribes` timestamp format, §5.4). */
export function formatUnsubscribeTime(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}+00`;
}
