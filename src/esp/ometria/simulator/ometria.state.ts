/**
 * Ometria state: contact listings, the profiles derived from them (clustered by email, else customer_id), the
 * unsubscribe log of `/v2/unsubscribes`, the push error list of `/v2/push/_errors` and the fired
 * subscribe/unsubscribe events (esp-contracts.md §5.2–5.4). Record validation lives in ometria.records.ts.
 */
import type { RecipientConsent } from '../../../simulators/core/types.js';
import { pushCapped } from '../../../simulators/core/util.js';
import {
  derive,
  type Derived,
  type Listing,
  listingKey,
  type MarketingValue,
  type OmetriaChannel,
  OPTED_IN,
  OPTED_OUT,
} from './ometria.model.js';
import type { ResolvedOmetriaOptions } from './ometria.options.js';

export interface OmetriaProfile {
  id: string;
  clusterKey: string;
  email: string | null;
  customerId: string | null;
  status: Partial<Record<OmetriaChannel, MarketingValue>>;
  decidedBy: Partial<Record<OmetriaChannel, Derived>>;
  timestamps: Record<OmetriaChannel, { subscribed: string | null; unsubscribed: string | null }>;
  /** `<channel>:<subscribe|unsubscribe>` events already fired (they fire only the first time, §5.3). */
  fired: Set<string>;
  updated: Date;
}

export interface UnsubscribeLogEntry {
  email_address: string | null;
  profile_id: string;
  reason: string;
  at: Date;
  type: string;
  channel: OmetriaChannel;
}

export interface PushError {
  error_message: string;
  error_path: string;
}

/** What the record that caused a recompute carried, per channel. */
export interface Trigger {
  origin: 'api' | 'recipient';
  hasValue: Partial<Record<OmetriaChannel, boolean>>;
  ts: Partial<Record<OmetriaChannel, { subscribed?: string; unsubscribed?: string }>>;
  type?: string;
  reason?: string;
}

const CHANNELS: readonly OmetriaChannel[] = ['email', 'sms'];
const MAX_LOG = 10_000;
export const INTERNAL_COLLECTION = '__ometria__';

export class OmetriaState {
  readonly listings = new Map<string, Listing>();
  readonly profiles = new Map<string, OmetriaProfile>();
  /** cluster key → listing keys, so a recompute touches only that profile's listings. */
  private readonly clusterIndex = new Map<string, Set<string>>();
  private readonly profileIds = new Map<string, string>();
  unsubscribes: UnsubscribeLogEntry[] = [];
  errors: PushError[] = [];
  events: { at: string; profile_id: string; channel: OmetriaChannel; type: string; welcome: boolean }[] = [];
  otherRecords: Record<string, number> = {};
  private seq = 0;
  private nextProfile = 1;

  constructor(private readonly opts: ResolvedOmetriaOptions) {}

  clear(): void {
    this.listings.clear();
    this.profiles.clear();
    this.clusterIndex.clear();
    this.profileIds.clear();
    this.unsubscribes = [];
    this.errors = [];
    this.events = [];
    this.otherRecords = {};
    this.nextProfile = 1;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  addErrors(errors: PushError[]): void {
    for (const e of errors) pushCapped(this.errors, e, this.opts.maxErrors);
  }

  clusterOf(l: Listing): string {
    if (l.internal) return l.id;
    if (l.email) return l.email;
    if (l.customerId) return `customer:${l.customerId}`;
    return `listing:${listingKey(l.collection, l.id)}`;
  }

  /** A cluster by email, customer id or profile id. */
  findCluster(ref: string): string | undefined {
    const lower = ref.trim().toLowerCase();
    if (this.profiles.has(lower)) return lower;
    if (this.profiles.has(`customer:${ref}`)) return `customer:${ref}`;
    for (const p of this.profiles.values()) if (p.id === ref) return p.clusterKey;
    return undefined;
  }

  listingsOf(clusterKey: string): Listing[] {
    const keys = this.clusterIndex.get(clusterKey) ?? new Set<string>();
    return [...keys].map((k) => this.listings.get(k)).filter((l): l is Listing => l !== undefined);
  }

  /** Store a listing and move it in the cluster index (its email or customer id may have changed). */
  putListing(listing: Listing, oldCluster?: string): void {
    const key = listingKey(listing.collection, listing.id);
    this.listings.set(key, listing);
    if (oldCluster !== undefined) this.clusterIndex.get(oldCluster)?.delete(key);
    const cluster = this.clusterOf(listing);
    const keys = this.clusterIndex.get(cluster) ?? new Set<string>();
    keys.add(key);
    this.clusterIndex.set(cluster, keys);
  }

  private profileFor(clusterKey: string, now: Date): OmetriaProfile {
    let p = this.profiles.get(clusterKey);
    if (!p) {
      const id = this.profileIds.get(clusterKey) ?? String(this.nextProfile++);
      this.profileIds.set(clusterKey, id);
      p = {
        id,
        clusterKey,
        email: null,
        customerId: null,
        status: {},
        decidedBy: {},
        timestamps: {
          email: { subscribed: null, unsubscribed: null },
          sms: { subscribed: null, unsubscribed: null },
        },
        fired: new Set(),
        updated: now,
      };
      this.profiles.set(clusterKey, p);
    }
    return p;
  }

  /** Re-derive a profile after its listings changed; applies timestamps, events and the unsubscribe log. */
  recompute(clusterKey: string, trigger: Trigger | undefined, now: Date): void {
    const listings = this.listingsOf(clusterKey);
    if (listings.length === 0) {
      this.profiles.delete(clusterKey);
      return;
    }
    const p = this.profileFor(clusterKey, now);
    const real = listings.filter((l) => !l.internal);
    p.email = real.find((l) => l.email)?.email ?? p.email;
    p.customerId = real.find((l) => l.customerId)?.customerId ?? p.customerId;
    for (const ch of CHANNELS) {
      const d = derive(listings, ch, this.opts.nonForcedRule);
      const before = p.status[ch];
      const after = d?.value;
      if (d) p.decidedBy[ch] = d;
      else delete p.decidedBy[ch];
      const ts = trigger?.ts[ch] ?? {};
      if (after !== before) {
        if (after === undefined) delete p.status[ch];
        else p.status[ch] = after;
        if (after === OPTED_IN) {
          p.timestamps[ch].subscribed = ts.subscribed ?? now.toISOString();
          this.fire(p, ch, 'subscribe', trigger?.hasValue[ch] === true && ts.subscribed !== undefined, now);
        } else if (after === OPTED_OUT) {
          p.timestamps[ch].unsubscribed = ts.unsubscribed ?? now.toISOString();
          this.fire(p, ch, 'unsubscribe', false, now);
          if (trigger?.origin === 'api' && this.opts.includeApiUnsubscribes)
            this.log(p, ch, 'api', 'api', now);
        }
      } else if (
        (ts.subscribed || ts.unsubscribed) &&
        (!trigger?.hasValue[ch] || this.opts.enhancedForceOptIn)
      ) {
        // "A timestamp sent without marketing_optin updates the date only"; enhanced force opt-in: always (§5.3).
        if (ts.subscribed) p.timestamps[ch].subscribed = ts.subscribed;
        if (ts.unsubscribed) p.timestamps[ch].unsubscribed = ts.unsubscribed;
      }
    }
    p.updated = now;
  }

  private fire(
    p: OmetriaProfile,
    channel: OmetriaChannel,
    type: 'subscribe' | 'unsubscribe',
    welcome: boolean,
    now: Date,
  ): void {
    const id = `${channel}:${type}`;
    if (p.fired.has(id)) return;
    p.fired.add(id);
    pushCapped(
      this.events,
      { at: now.toISOString(), profile_id: p.id, channel, type, welcome: type === 'subscribe' && welcome },
      MAX_LOG,
    );
  }

  log(p: OmetriaProfile, channel: OmetriaChannel, type: string, reason: string, at: Date): void {
    pushCapped(
      this.unsubscribes,
      { email_address: p.email, profile_id: p.id, reason, at, type, channel },
      MAX_LOG,
    );
  }

  /** A recipient unsubscribing inside Ometria: a forced opt-out on the simulator's own listing of that profile. */
  actOutUnsubscribe(
    clusterKey: string,
    channel: OmetriaChannel,
    type: string,
    reason: string,
    at: Date,
  ): OmetriaProfile {
    const key = listingKey(INTERNAL_COLLECTION, clusterKey);
    let l = this.listings.get(key);
    if (!l) {
      l = {
        collection: INTERNAL_COLLECTION,
        id: clusterKey,
        email: null,
        customerId: null,
        source: type === 'app' ? 'in_app' : 'preference_centre',
        forced: true,
        internal: true,
        values: {},
        timestamps: {},
        fields: {},
        updated: at,
      };
      this.putListing(l);
    }
    l.values[channel] = { value: OPTED_OUT, forceSeq: this.nextSeq() };
    l.updated = at;
    this.recompute(
      clusterKey,
      {
        origin: 'recipient',
        hasValue: { [channel]: true },
        ts: { [channel]: { unsubscribed: at.toISOString() } },
        type,
        reason,
      },
      at,
    );
    const profile = this.profiles.get(clusterKey);
    if (!profile) throw new Error(`profile ${clusterKey} vanished`);
    this.log(profile, channel, type, reason, at);
    return profile;
  }

  consent(): Record<string, RecipientConsent> {
    const out: Record<string, RecipientConsent> = {};
    for (const p of this.profiles.values()) {
      const c: RecipientConsent = {};
      for (const ch of CHANNELS) {
        const s = p.status[ch];
        if (s === OPTED_IN) c[ch] = 'opted_in';
        else if (s === OPTED_OUT) c[ch] = 'opted_out';
      }
      out[p.email ?? (p.customerId !== null ? `customer:${p.customerId}` : p.id)] = c;
    }
    return out;
  }

  profileJson(p: OmetriaProfile): Record<string, unknown> {
    const sms = p.status.sms;
    return {
      id: p.id,
      email: p.email,
      customer_id: p.customerId,
      marketing_optin: p.status.email ?? null,
      timestamp_subscribed: p.timestamps.email.subscribed,
      timestamp_unsubscribed: p.timestamps.email.unsubscribed,
      channels: {
        sms: {
          allow_marketing: sms === OPTED_IN ? true : sms === OPTED_OUT ? false : null,
          timestamp_subscribed: p.timestamps.sms.subscribed,
          timestamp_unsubscribed: p.timestamps.sms.unsubscribed,
        },
      },
      contacts: this.listingsOf(p.clusterKey)
        .filter((l) => !l.internal)
        .map((l) => ({ '@collection': l.collection, id: l.id })),
      updated: p.updated.toISOString(),
    };
  }
}
