/**
 * Validation and application of pushed records (esp-contracts.md §5.2). Records are merged into the listing with
 * the same `@collection` + `id` (partial updates allowed). Field errors surface asynchronously in
 * `/v2/push/_errors` as `{"error_message":"not a valid value","error_path":"root > lastname"}` and the record is not
 * applied. SMS consent is read from `channels.sms.allow_marketing` (Boolean) with `channels.sms.timestamp_*`
 * (INFERENCE: the contract shows `"channels": {"sms": ...}` without its schema).
 */
import { isRecord } from '../../../simulators/core/reply.js';
import { normaliseEmail } from '../../../simulators/core/util.js';
import {
  type Listing,
  listingKey,
  MARKETING_VALUES,
  type MarketingValue,
  OPTED_IN,
  OPTED_OUT,
  parseOmetriaTime,
} from './ometria.model.js';
import type { ResolvedOmetriaOptions } from './ometria.options.js';
import type { OmetriaState, PushError, Trigger } from './ometria.state.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const KNOWN_FIELDS = new Set([
  '@type',
  '@collection',
  'id',
  'customer_id',
  'email',
  'marketing_optin',
  '@force_optin',
  'timestamp_subscribed',
  'timestamp_unsubscribed',
  'timestamp_acquired',
  'channels',
]);

interface ParsedContact {
  collection: string;
  id: string;
  email?: string;
  customerId?: string;
  marketing?: MarketingValue;
  force?: boolean;
  sms?: MarketingValue;
  ts: { subscribed?: string; unsubscribed?: string; acquired?: string };
  smsTs: { subscribed?: string; unsubscribed?: string };
  fields: Record<string, unknown>;
}

const invalid = (path: string): PushError => ({
  error_message: 'not a valid value',
  error_path: `root > ${path}`,
});

function parseContact(rec: Record<string, unknown>): ParsedContact | PushError[] {
  const errors: PushError[] = [];
  const { id, email, customer_id: customerId, marketing_optin: marketing, channels } = rec;
  const collection = rec['@collection'];
  const force = rec['@force_optin'];
  const out: ParsedContact = { collection: 'default', id: '', ts: {}, smsTs: {}, fields: {} };
  if ((typeof id !== 'string' && typeof id !== 'number') || String(id) === '')
    errors.push({ error_message: 'is required', error_path: 'root > id' });
  else out.id = String(id);
  if (collection !== undefined) {
    if (typeof collection === 'string' && collection !== '') out.collection = collection;
    else errors.push(invalid('@collection'));
  }
  if (email !== undefined && email !== null) {
    if (typeof email === 'string' && EMAIL.test(email.trim())) out.email = normaliseEmail(email);
    else errors.push(invalid('email'));
  }
  if (customerId !== undefined && customerId !== null) {
    if (typeof customerId === 'string' || typeof customerId === 'number') out.customerId = String(customerId);
    else errors.push(invalid('customer_id'));
  }
  if (marketing !== undefined) {
    if (typeof marketing === 'string' && (MARKETING_VALUES as readonly string[]).includes(marketing))
      out.marketing = marketing as MarketingValue;
    else errors.push(invalid('marketing_optin'));
  }
  if (force !== undefined) {
    if (typeof force === 'boolean') out.force = force;
    else errors.push(invalid('@force_optin'));
  }
  for (const [field, key] of [
    ['timestamp_subscribed', 'subscribed'],
    ['timestamp_unsubscribed', 'unsubscribed'],
    ['timestamp_acquired', 'acquired'],
  ] as const) {
    const v = rec[field];
    if (v === undefined || v === null) continue;
    if (typeof v === 'string' && parseOmetriaTime(v)) out.ts[key] = v;
    else errors.push(invalid(field));
  }
  if (channels !== undefined) parseChannels(channels, out, errors);
  for (const [k, v] of Object.entries(rec)) {
    if (KNOWN_FIELDS.has(k)) continue;
    if (
      (k === 'firstname' || k === 'lastname' || k === 'phone_number') &&
      v !== null &&
      typeof v !== 'string'
    )
      errors.push(invalid(k));
    else out.fields[k] = v;
  }
  return errors.length > 0 ? errors : out;
}

function parseChannels(channels: unknown, out: ParsedContact, errors: PushError[]): void {
  if (!isRecord(channels)) {
    errors.push(invalid('channels'));
    return;
  }
  const { sms } = channels;
  if (sms === undefined) return;
  if (!isRecord(sms)) {
    errors.push(invalid('channels > sms'));
    return;
  }
  const { allow_marketing: allow, timestamp_subscribed: sub, timestamp_unsubscribed: unsub } = sms;
  if (allow !== undefined) {
    if (typeof allow === 'boolean') out.sms = allow ? OPTED_IN : OPTED_OUT;
    else errors.push(invalid('channels > sms > allow_marketing'));
  }
  for (const [v, key] of [
    [sub, 'subscribed'],
    [unsub, 'unsubscribed'],
  ] as const) {
    if (v === undefined || v === null) continue;
    if (typeof v === 'string' && parseOmetriaTime(v)) out.smsTs[key] = v;
    else errors.push(invalid(`channels > sms > timestamp_${key}`));
  }
}

/** Apply one record of a push (called asynchronously, in push order). */
export function applyRecord(
  state: OmetriaState,
  opts: ResolvedOmetriaOptions,
  rec: unknown,
  now: Date,
): void {
  if (!isRecord(rec)) return;
  const type = rec['@type'];
  if (typeof type !== 'string' || type === '') {
    state.addErrors([{ error_message: 'is required', error_path: 'root > @type' }]);
    return;
  }
  if (type !== 'contact') {
    state.otherRecords[type] = (state.otherRecords[type] ?? 0) + 1;
    return;
  }
  const parsed = parseContact(rec);
  if (Array.isArray(parsed)) {
    state.addErrors(parsed);
    return;
  }
  const key = listingKey(parsed.collection, parsed.id);
  const existing = state.listings.get(key);
  const listing: Listing = existing ?? {
    collection: parsed.collection,
    id: parsed.id,
    email: null,
    customerId: null,
    source: opts.collectionSources[parsed.collection] ?? 'api',
    forced: false,
    internal: false,
    values: {},
    timestamps: {},
    fields: {},
    updated: now,
  };
  const oldCluster = existing ? state.clusterOf(existing) : undefined;
  if (parsed.email !== undefined) listing.email = parsed.email;
  if (parsed.customerId !== undefined) listing.customerId = parsed.customerId;
  // `@force_optin` is sent together with marketing_optin (§5.3); `false` alone still removes a force.
  const hasValue = parsed.marketing !== undefined || parsed.sms !== undefined;
  if (parsed.force === false || (parsed.force === true && hasValue)) listing.forced = parsed.force;
  if (parsed.marketing !== undefined)
    listing.values.email = { value: parsed.marketing, forceSeq: listing.forced ? state.nextSeq() : 0 };
  if (parsed.sms !== undefined)
    listing.values.sms = { value: parsed.sms, forceSeq: listing.forced ? state.nextSeq() : 0 };
  listing.timestamps = { ...listing.timestamps, ...parsed.ts };
  listing.fields = { ...listing.fields, ...parsed.fields };
  listing.updated = now;
  state.putListing(listing, oldCluster);

  const trigger: Trigger = {
    origin: 'api',
    hasValue: { email: parsed.marketing !== undefined, sms: parsed.sms !== undefined },
    ts: { email: stripTs(parsed.ts), sms: parsed.smsTs },
  };
  const cluster = state.clusterOf(listing);
  state.recompute(cluster, trigger, now);
  if (oldCluster !== undefined && oldCluster !== cluster) state.recompute(oldCluster, undefined, now);
}

function stripTs(ts: ParsedContact['ts']): { subscribed?: string; unsubscribed?: string } {
  const out: { subscribed?: string; unsubscribed?: string } = {};
  if (ts.subscribed !== undefined) out.subscribed = ts.subscribed;
  if (ts.unsubscribed !== undefined) out.unsubscribed = ts.unsubscribed;
  return out;
}
