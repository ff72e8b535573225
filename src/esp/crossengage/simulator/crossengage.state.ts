/**
 * CrossEngage state (esp-contracts.md §2): users keyed by external id and leads (email-only profiles) keyed by
 * `lead:<businessUnit>:<email>`, each with `{optOutAll, optOutChannels[], blacklisted}` (§2 Simulator notes).
 */
import { randomUUID } from 'node:crypto';
import type { RecipientConsent } from '../../../simulators/core/types.js';
import { normaliseEmail, pushCapped } from '../../../simulators/core/util.js';

/** DOC §2.1: the seven channelType values of the REST API. */
export const CHANNEL_TYPES = [
  'MAIL',
  'BROWSER_NOTIFICATION',
  'ONSITE_DISPLAY',
  'EXIT_INTENT',
  'PUSH_NOTIFICATION',
  'DIRECT_MAIL',
  'SMS',
] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export function isChannelType(value: string): value is ChannelType {
  return (CHANNEL_TYPES as readonly string[]).includes(value);
}

export const CANONICAL_TO_CHANNEL_TYPE = { email: 'MAIL', sms: 'SMS', push: 'PUSH_NOTIFICATION' } as const;

export interface CeProfile {
  kind: 'user' | 'lead';
  /** CrossEngage's own id of the profile (`xngId` in v1 answers). */
  xngId: string;
  /** External id (users only). */
  id: string | null;
  email: string | null;
  businessUnit: string | null;
  traits: Record<string, unknown>;
  optOutAll: boolean;
  optOutChannels: Set<ChannelType>;
  blacklisted: boolean;
  created: Date;
  updated: Date;
}

export interface CeRecordedEvent {
  at: string;
  /** Recipient key of the profile the event landed on, or null when it was dropped. */
  recipient: string | null;
  event: string;
  channelType: string | null;
  properties: unknown;
  /** What the event did to the opt-out state. */
  effect: 'opt-out' | 'opt-in' | 'none' | 'dropped';
}

export interface TrackingRecord {
  stage: 'PENDING' | 'PROCESSED';
  total: number;
  success: number;
  error: number;
  createdAt: Date;
}

const MAX_EVENTS = 5000;

function emailKey(email: string, businessUnit: string | null): string {
  return `${businessUnit ?? ''}|${normaliseEmail(email)}`;
}

export function leadKey(email: string, businessUnit: string | null | undefined): string {
  return `lead:${businessUnit ?? ''}:${normaliseEmail(email)}`;
}

export class CrossEngageState {
  readonly users = new Map<string, CeProfile>();
  readonly leads = new Map<string, CeProfile>();
  events: CeRecordedEvent[] = [];
  readonly tracking = new Map<string, TrackingRecord>();
  /** `<businessUnit>|<email>` → external id (exact, case-insensitive lookups, §2.3). */
  private readonly emailIndex = new Map<string, string>();

  clear(): void {
    this.emailIndex.clear();
    this.users.clear();
    this.leads.clear();
    this.events = [];
    this.tracking.clear();
  }

  recordEvent(e: CeRecordedEvent): void {
    pushCapped(this.events, e, MAX_EVENTS);
  }

  /** A user or a lead by recipient key. */
  byKey(key: string): CeProfile | undefined {
    return this.users.get(key) ?? this.leads.get(key);
  }

  xngIdOf(p: CeProfile): string {
    return p.xngId;
  }

  keyOf(p: CeProfile): string {
    return p.kind === 'user' ? (p.id ?? '') : leadKey(p.email ?? '', p.businessUnit);
  }

  /** Exact, case-insensitive email match within a business unit (§2.3). */
  userByEmail(email: string, businessUnit: string | null): CeProfile | undefined {
    const id = this.emailIndex.get(emailKey(email, businessUnit));
    return id === undefined ? undefined : this.users.get(id);
  }

  deleteUser(id: string): void {
    const user = this.users.get(id);
    if (user?.email) this.emailIndex.delete(emailKey(user.email, user.businessUnit));
    this.users.delete(id);
  }

  upsertUser(
    id: string,
    fields: { email?: string | null; businessUnit?: string | null; traits?: Record<string, unknown> },
    now: Date,
  ): CeProfile {
    const existing = this.users.get(id);
    if (existing) {
      if (existing.email) this.emailIndex.delete(emailKey(existing.email, existing.businessUnit));
      if (fields.email !== undefined) existing.email = fields.email;
      if (fields.businessUnit !== undefined) existing.businessUnit = fields.businessUnit;
      existing.traits = { ...existing.traits, ...(fields.traits ?? {}) };
      existing.updated = now;
      if (existing.email) this.emailIndex.set(emailKey(existing.email, existing.businessUnit), id);
      this.absorbLead(existing);
      return existing;
    }
    const user = blankProfile('user', id, fields.email ?? null, fields.businessUnit ?? null, now);
    user.traits = { ...(fields.traits ?? {}) };
    this.users.set(id, user);
    if (user.email) this.emailIndex.set(emailKey(user.email, user.businessUnit), id);
    this.absorbLead(user);
    return user;
  }

  /**
   * The lead with the user's email and businessUnit merges into the user (v1 blueprint, "Leads").
   * INFERENCE: opt-outs of either survive and the user's traits win; the exact merge rule is NOT FOUND.
   */
  private absorbLead(user: CeProfile): void {
    if (!user.email) return;
    const key = leadKey(user.email, user.businessUnit);
    const lead = this.leads.get(key);
    if (!lead) return;
    user.optOutAll ||= lead.optOutAll;
    for (const channel of lead.optOutChannels) user.optOutChannels.add(channel);
    user.blacklisted ||= lead.blacklisted;
    user.traits = { ...lead.traits, ...user.traits };
    this.leads.delete(key);
  }

  upsertLead(
    email: string,
    businessUnit: string | null,
    traits: Record<string, unknown>,
    now: Date,
  ): CeProfile {
    const key = leadKey(email, businessUnit);
    const existing = this.leads.get(key);
    if (existing) {
      existing.traits = { ...existing.traits, ...traits };
      existing.updated = now;
      return existing;
    }
    const lead = blankProfile('lead', null, normaliseEmail(email), businessUnit, now);
    lead.traits = { ...traits };
    this.leads.set(key, lead);
    return lead;
  }

  /** `channel` null = the overall status (`optOutAll`). */
  setOptOut(p: CeProfile, channel: ChannelType | null, optOut: boolean, now: Date): void {
    if (channel === null) p.optOutAll = optOut;
    else if (optOut) p.optOutChannels.add(channel);
    else p.optOutChannels.delete(channel);
    p.updated = now;
  }

  consent(): Record<string, RecipientConsent> {
    const out: Record<string, RecipientConsent> = {};
    for (const p of [...this.users.values(), ...this.leads.values()]) {
      const c: RecipientConsent = {};
      for (const [canonical, channelType] of Object.entries(CANONICAL_TO_CHANNEL_TYPE) as [
        keyof typeof CANONICAL_TO_CHANNEL_TYPE,
        ChannelType,
      ][]) {
        // CrossEngage is an opt-out system: no opt-out flag = may send (§2.2).
        c[canonical] = p.optOutAll || p.optOutChannels.has(channelType) ? 'opted_out' : 'opted_in';
      }
      out[this.keyOf(p)] = c;
    }
    return out;
  }

  profileJson(p: CeProfile): Record<string, unknown> {
    return {
      ...p.traits,
      ...(p.id !== null ? { id: p.id } : {}),
      email: p.email,
      businessUnit: p.businessUnit,
    };
  }

  statusJson(p: CeProfile): { blacklisted: boolean; optOutAll: boolean; optOutChannels: ChannelType[] } {
    return { blacklisted: p.blacklisted, optOutAll: p.optOutAll, optOutChannels: [...p.optOutChannels] };
  }
}

function blankProfile(
  kind: CeProfile['kind'],
  id: string | null,
  email: string | null,
  businessUnit: string | null,
  now: Date,
): CeProfile {
  return {
    kind,
    xngId: randomUUID(),
    id,
    email,
    businessUnit,
    traits: {},
    optOutAll: false,
    optOutChannels: new Set(),
    blacklisted: false,
    created: now,
    updated: now,
  };
}
