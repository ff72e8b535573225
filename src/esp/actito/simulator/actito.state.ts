/**
 * Actito state (esp-contracts.md §3.3): profiles of one profile table, upserted on the unique key, with
 * `marketingConsent` (Boolean) and its consent metadata `{source, way, date}`, a tracking-consent attribute,
 * per-topic subscriptions, and the bearer tokens issued by `/auth/token`.
 */
import type { RecipientConsent } from '../../../simulators/core/types.js';
import { pushCapped } from '../../../simulators/core/util.js';
import type { ResolvedActitoOptions } from './actito.options.js';

export interface DataCollectionInformation {
  source: string;
  way: string;
  date: string;
}

export interface ActitoProfile {
  profileId: number;
  attributes: Map<string, unknown>;
  subscriptions: Map<string, boolean>;
  segmentations: unknown[];
  /** Latest consent metadata per consent item (`marketingConsent`, tracking attribute, `subscription:<name>`). */
  consentInfo: Record<string, { value: unknown } & Partial<DataCollectionInformation>>;
  lastDataCollection: DataCollectionInformation | null;
  created: Date;
  updated: Date;
}

/** What an upsert changed, for the webhooks (only the supplied attributes, §3.4). */
export interface ProfileChange {
  profile: ActitoProfile;
  created: boolean;
  attributes: { name: string; value: unknown }[];
  subscriptions: { name: string; subscribe: boolean }[];
}

export interface ProfileInput {
  attributes: { name: string; value: unknown }[];
  subscriptions: { name: string; subscribe: boolean }[];
  segmentations: unknown[];
  dataCollectionInformation: DataCollectionInformation | null;
}

const MAX_INTERACTIONS = 5000;

export class ActitoState {
  readonly profiles = new Map<number, ActitoProfile>();
  private readonly byKey = new Map<string, number>();
  readonly tokens = new Map<string, number>();
  interactions: { at: string; profileId: number; kind: string; detail: unknown }[] = [];
  private nextId = 1;

  constructor(private readonly opts: ResolvedActitoOptions) {}

  clear(): void {
    this.profiles.clear();
    this.byKey.clear();
    this.interactions = [];
    this.nextId = 1;
  }

  normaliseKey(value: unknown): string {
    const s = String(value).trim();
    return this.opts.uniqueKeyAttribute === 'emailAddress' ? s.toLowerCase() : s;
  }

  /** By numeric profile id or by unique key value. */
  find(ref: string): ActitoProfile | undefined {
    if (/^\d+$/.test(ref)) {
      const byId = this.profiles.get(Number(ref));
      if (byId) return byId;
    }
    const id = this.byKey.get(this.normaliseKey(ref));
    return id === undefined ? undefined : this.profiles.get(id);
  }

  keyOf(p: ActitoProfile): string {
    return this.normaliseKey(p.attributes.get(this.opts.uniqueKeyAttribute) ?? p.profileId);
  }

  note(profileId: number, kind: string, detail: unknown, at: Date): void {
    pushCapped(this.interactions, { at: at.toISOString(), profileId, kind, detail }, MAX_INTERACTIONS);
  }

  /** Create or update on the unique key (which the caller has validated is present). */
  upsert(input: ProfileInput, now: Date): ProfileChange {
    const keyAttr = input.attributes.find((a) => a.name === this.opts.uniqueKeyAttribute);
    const key = this.normaliseKey(keyAttr?.value ?? '');
    const existingId = this.byKey.get(key);
    let profile = existingId === undefined ? undefined : this.profiles.get(existingId);
    const created = profile === undefined;
    if (!profile) {
      profile = {
        profileId: this.nextId++,
        attributes: new Map(),
        subscriptions: new Map(),
        segmentations: [],
        consentInfo: {},
        lastDataCollection: null,
        created: now,
        updated: now,
      };
      this.profiles.set(profile.profileId, profile);
      this.byKey.set(key, profile.profileId);
    }
    const change: ProfileChange = { profile, created, attributes: [], subscriptions: [] };
    const info = input.dataCollectionInformation ?? {};
    for (const a of input.attributes) {
      const value = a.name === this.opts.uniqueKeyAttribute ? key : a.value;
      if (!created && profile.attributes.get(a.name) === value) continue;
      profile.attributes.set(a.name, value);
      change.attributes.push({ name: a.name, value });
      if (a.name === 'marketingConsent' || a.name === this.opts.trackingConsentAttribute) {
        profile.consentInfo[a.name] = { value, ...info };
      }
    }
    for (const s of input.subscriptions) {
      if (profile.subscriptions.get(s.name) === s.subscribe) continue;
      profile.subscriptions.set(s.name, s.subscribe);
      profile.consentInfo[`subscription:${s.name}`] = { value: s.subscribe, ...info };
      change.subscriptions.push(s);
    }
    if (input.segmentations.length > 0) profile.segmentations = input.segmentations;
    if (input.dataCollectionInformation) profile.lastDataCollection = input.dataCollectionInformation;
    profile.updated = now;
    return change;
  }

  setSubscription(
    profile: ActitoProfile,
    name: string,
    subscribe: boolean,
    info: DataCollectionInformation | null,
    now: Date,
  ): boolean {
    if (profile.subscriptions.get(name) === subscribe) return false;
    profile.subscriptions.set(name, subscribe);
    profile.consentInfo[`subscription:${name}`] = { value: subscribe, ...(info ?? {}) };
    profile.updated = now;
    return true;
  }

  remove(profile: ActitoProfile): void {
    this.profiles.delete(profile.profileId);
    this.byKey.delete(this.keyOf(profile));
  }

  consent(): Record<string, RecipientConsent> {
    const out: Record<string, RecipientConsent> = {};
    for (const p of this.profiles.values()) {
      const c: RecipientConsent = {};
      const marketing = p.attributes.get('marketingConsent');
      for (const ch of ['email', 'sms', 'push'] as const) {
        const subName = this.opts.channelSubscriptions[ch];
        const sub = subName === undefined ? undefined : p.subscriptions.get(subName);
        // marketingConsent filters every campaign (§3.3): it speaks for email, and for a channel whose subscription
        // the profile has a value for.
        const participates = ch === 'email' || sub !== undefined;
        if (!participates) continue;
        if (marketing === false || sub === false) c[ch] = 'opted_out';
        else if (marketing === true || sub === true) c[ch] = 'opted_in';
      }
      const tracking = p.attributes.get(this.opts.trackingConsentAttribute);
      if (tracking === true) c.tracking = 'opted_in';
      else if (tracking === false) c.tracking = 'opted_out';
      out[this.keyOf(p)] = c;
    }
    return out;
  }

  profileJson(p: ActitoProfile): Record<string, unknown> {
    return {
      profileId: p.profileId,
      attributes: [...p.attributes].map(([name, value]) => ({ name, value })),
      subscriptions: [...p.subscriptions].map(([name, subscribe]) => ({ name, subscribe })),
      segmentations: p.segmentations,
      dataCollectionInformation: p.lastDataCollection,
      creationMoment: p.created.toISOString(),
      updateMoment: p.updated.toISOString(),
    };
  }
}
