/**
 * Optimizely Campaign state, shared by the HTTP API and the REST API so that reconciliation (REST reads) sees what
 * HTTP writes produced (esp-contracts.md §1 Simulator notes): recipient lists, the unsubscribe list per media type,
 * the blocklist patterns, tracking opt-outs and registered webhooks.
 */
import type { CanonicalChannel, RecipientConsent } from '../../../simulators/core/types.js';
import type { MediaType } from './optimizely-campaign.options.js';

export interface UnsubscribeEntry {
  id: number;
  recipientId: string;
  /** Only set with recipient-list-based unsubscribes (§1.2). */
  recipientListId: string | null;
  mailingId: string | null;
  reason: string;
  created: Date;
  mediaType: MediaType;
  origin: 'http-api' | 'rest-api' | 'recipient';
}

export interface RecipientRecord {
  recipientId: string;
  recipientListId: string;
  address: string | null;
  fields: Record<string, string>;
  optinStatus: 'confirmed' | 'non_confirmed';
  optInProcessId: string | null;
  created: Date;
  modified: Date;
}

export interface BlacklistEntry {
  pattern: string;
  reason: string;
  created: Date;
  modified: Date;
}

/** A registered webhook's `authentication` (§1.2: none | basicAuth | keyAuth). */
export interface WebhookAuthentication {
  type: 'none' | 'basicAuth' | 'keyAuth';
  userName?: string;
  password?: string;
  key?: string;
  passphrase?: string;
}

export interface RegisteredWebhook {
  id: number;
  type: string;
  status: 'activated';
  format: 'json';
  targetUrl: string;
  authentication: WebhookAuthentication;
  created: Date;
  modified: Date;
}

type Touch = CanonicalChannel | 'tracking';

const CHANNEL_MEDIA: Record<CanonicalChannel, MediaType> = { email: 'EMAIL', sms: 'SMS', push: 'PUSH' };

/** Blocklist pattern → RegExp: `*` any run, `?` one char, `\*` `\?` literals; case-insensitive, whole address. */
export function patternToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] ?? '';
    const next = pattern[i + 1];
    if (ch === '\\' && (next === '*' || next === '?')) {
      re += `\\${next}`;
      i++;
    } else if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}

export function isWildcardPattern(pattern: string): boolean {
  return /(^|[^\\])[*?]/.test(pattern);
}

export class OptimizelyState {
  readonly lists = new Map<string, Map<string, RecipientRecord>>();
  /** Active unsubscribe entries by id (insertion order = creation order). */
  private readonly entries = new Map<number, UnsubscribeEntry>();
  private readonly byRecipient = new Map<string, UnsubscribeEntry[]>();
  readonly blacklist = new Map<string, BlacklistEntry>();
  /** Compiled wildcard (or escaped) patterns; exact addresses are looked up in `blacklist` directly. */
  private readonly patterns = new Map<string, RegExp>();
  readonly trackingOptOuts = new Map<string, Date>();
  /** Channels whose value the ESP holds after an explicit change (e.g. an unsubscribe removed → opted in). */
  readonly touched = new Map<string, Set<Touch>>();
  webhooks: RegisteredWebhook[] = [];
  private seq = 0;

  constructor(private readonly listBased: boolean) {}

  clear(): void {
    this.lists.clear();
    this.entries.clear();
    this.byRecipient.clear();
    this.blacklist.clear();
    this.patterns.clear();
    this.trackingOptOuts.clear();
    this.touched.clear();
    this.webhooks = [];
  }

  nextId(): number {
    return ++this.seq;
  }

  /** Active unsubscribe entries, oldest first. */
  get unsubscribes(): UnsubscribeEntry[] {
    return [...this.entries.values()];
  }

  touch(recipientId: string, what: Touch): void {
    const set = this.touched.get(recipientId) ?? new Set<Touch>();
    this.touched.set(recipientId, set);
    set.add(what);
  }

  private scoped(recipientId: string, listId: string | null): UnsubscribeEntry[] {
    const all = this.byRecipient.get(recipientId) ?? [];
    return this.listBased ? all.filter((e) => e.recipientListId === listId) : all;
  }

  /** Unsubscribed from this media type (directly, or through a GLOBAL entry). */
  isUnsubscribed(recipientId: string, mediaType: MediaType, listId: string | null): boolean {
    return this.scoped(recipientId, listId).some(
      (e) => e.mediaType === mediaType || e.mediaType === 'GLOBAL',
    );
  }

  addUnsubscribe(input: Omit<UnsubscribeEntry, 'id'>): { entry: UnsubscribeEntry; created: boolean } {
    const listId = this.listBased ? input.recipientListId : null;
    const existing = this.scoped(input.recipientId, listId).find((e) => e.mediaType === input.mediaType);
    if (existing) return { entry: existing, created: false };
    const entry: UnsubscribeEntry = { ...input, recipientListId: listId, id: this.nextId() };
    this.entries.set(entry.id, entry);
    this.byRecipient.set(entry.recipientId, [...(this.byRecipient.get(entry.recipientId) ?? []), entry]);
    return { entry, created: true };
  }

  /** Remove the entries of exactly this media type; returns how many were removed. */
  removeUnsubscribes(recipientId: string, mediaType: MediaType, listId: string | null): number {
    const doomed = this.scoped(recipientId, this.listBased ? listId : null).filter(
      (e) => e.mediaType === mediaType,
    );
    if (doomed.length === 0) return 0;
    for (const e of doomed) this.entries.delete(e.id);
    const left = (this.byRecipient.get(recipientId) ?? []).filter((e) => !doomed.includes(e));
    if (left.length > 0) this.byRecipient.set(recipientId, left);
    else this.byRecipient.delete(recipientId);
    const channels = mediaType === 'GLOBAL' ? (['email', 'sms', 'push'] as const) : channelsOf(mediaType);
    for (const ch of channels) this.touch(recipientId, ch);
    return doomed.length;
  }

  recipient(listId: string, recipientId: string): RecipientRecord | undefined {
    return this.lists.get(listId)?.get(recipientId);
  }

  putRecipient(record: RecipientRecord): void {
    const list = this.lists.get(record.recipientListId) ?? new Map<string, RecipientRecord>();
    this.lists.set(record.recipientListId, list);
    list.set(record.recipientId, record);
  }

  removeRecipient(listId: string, recipientId: string): boolean {
    return this.lists.get(listId)?.delete(recipientId) ?? false;
  }

  /** `bmRemoveId`: remove from every list (test and transaction lists are not modelled). */
  removeFromAllLists(recipientId: string): number {
    let n = 0;
    for (const list of this.lists.values()) if (list.delete(recipientId)) n++;
    return n;
  }

  isBlacklisted(address: string): BlacklistEntry | undefined {
    const exact = this.blacklist.get(address.toLowerCase());
    if (exact && !this.patterns.has(exact.pattern.toLowerCase())) return exact;
    for (const [key, re] of this.patterns) if (re.test(address)) return this.blacklist.get(key);
    return undefined;
  }

  addBlacklist(pattern: string, reason: string, now: Date): { entry: BlacklistEntry; created: boolean } {
    const key = pattern.toLowerCase();
    const existing = this.blacklist.get(key);
    if (existing) return { entry: existing, created: false };
    const entry: BlacklistEntry = { pattern, reason, created: now, modified: now };
    this.blacklist.set(key, entry);
    if (/[*?\\]/.test(pattern)) this.patterns.set(key, patternToRegExp(pattern));
    return { entry, created: true };
  }

  removeBlacklist(pattern: string): boolean {
    const key = pattern.toLowerCase();
    const removed = this.blacklist.delete(key);
    this.patterns.delete(key);
    if (removed && !isWildcardPattern(pattern)) this.touch(pattern, 'email');
    return removed;
  }

  private addresses(recipientId: string): string[] {
    const out = [recipientId];
    for (const list of this.lists.values()) {
      const address = list.get(recipientId)?.address;
      if (address) out.push(address);
    }
    return out;
  }

  private confirmedSomewhere(recipientId: string): boolean {
    for (const list of this.lists.values())
      if (list.get(recipientId)?.optinStatus === 'confirmed') return true;
    return false;
  }

  /** Canonical consent per recipient id (see the simulator header for the mapping). */
  consent(): Record<string, RecipientConsent> {
    const ids = new Set<string>();
    for (const list of this.lists.values()) for (const id of list.keys()) ids.add(id);
    for (const id of this.byRecipient.keys()) ids.add(id);
    for (const id of this.trackingOptOuts.keys()) ids.add(id);
    for (const id of this.touched.keys()) ids.add(id);
    for (const e of this.blacklist.values())
      if (!isWildcardPattern(e.pattern)) ids.add(e.pattern.toLowerCase());
    const out: Record<string, RecipientConsent> = {};
    for (const id of ids) {
      const c: RecipientConsent = {};
      const touched = this.touched.get(id) ?? new Set<Touch>();
      const onList = this.confirmedSomewhere(id);
      const entries = this.byRecipient.get(id) ?? [];
      const unsubscribed = (m: MediaType): boolean =>
        entries.some((e) => e.mediaType === m || e.mediaType === 'GLOBAL');
      for (const ch of ['email', 'sms', 'push'] as const) {
        const blocked = ch === 'email' && this.addresses(id).some((a) => this.isBlacklisted(a));
        if (blocked || unsubscribed(CHANNEL_MEDIA[ch])) c[ch] = 'opted_out';
        else if ((ch === 'email' && onList) || touched.has(ch)) c[ch] = 'opted_in';
      }
      if (this.trackingOptOuts.has(id)) c.tracking = 'opted_out';
      else if (onList || touched.has('tracking')) c.tracking = 'opted_in';
      out[id] = c;
    }
    return out;
  }
}

function channelsOf(mediaType: MediaType): CanonicalChannel[] {
  if (mediaType === 'EMAIL') return ['email'];
  if (mediaType === 'SMS') return ['sms'];
  if (mediaType === 'PUSH') return ['push'];
  return [];
}

export function mediaTypeOf(channel: CanonicalChannel): MediaType {
  return CHANNEL_MEDIA[channel];
}
