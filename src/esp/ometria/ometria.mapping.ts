import type { OmetriaSettings } from './ometria.settings.js';
import { type ChannelResult, deadLetter, isDecided, missingIdentity, notApplicable, onChannel } from '../kit/outcome.js';
import type { ContactSnapshot, PushOutcome } from '../types.js';

/** One contact record of `POST /v2/push` (esp-contracts.md §5.2). */
export interface OmetriaContactRecord {
  '@type': 'contact';
  '@collection': string;
  /** Contact-listing id: must not contain PII, hence our contactId by default. */
  id: string;
  customer_id?: string;
  email: string;
  phone_number?: string;
  marketing_optin?: 'EXPLICITLY_OPTEDIN' | 'EXPLICITLY_OPTEDOUT';
  '@force_optin'?: boolean;
  timestamp_subscribed?: string;
  timestamp_unsubscribed?: string;
  /** SMS marketing consent of the listing (support article "SMS double opt-in via API": `allow_marketing`). */
  channels?: { sms: { allow_marketing: boolean; timestamp_subscribed?: string; timestamp_unsubscribed?: string } };
}

export interface OmetriaPushResponse {
  status: string;
  requestId?: string;
  accepted: number;
  rejected: number;
}

// Ometria validates fields only after accepting the push, reporting failures in /v2/push/_errors
// without naming the record (§5.2); an address it will refuse is caught here, where it is attributable.
const PLAUSIBLE_EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export type PushVerdict = 'accepted' | 'rejected' | 'partial' | 'unreadable';

/** What one contact becomes: a record carrying `covered` channels, or an outcome for them; `skipped` the rest. */
export type OmetriaPlan =
  | { record: OmetriaContactRecord; covered: string[]; skipped: ChannelResult[] }
  | { outcome: PushOutcome; covered: string[]; skipped: ChannelResult[] };

/** Ometria has no push channel on the push API (esp-contracts.md §5.2: `marketing_optin` and `channels.sms` only). */
export const NO_CHANNEL = (channel: string) => `Ometria's push API carries email and SMS marketing consent only, not ${channel}`;
export const NO_TRACKING = 'Ometria has no tracking consent field';

/**
 * A record for the contact's email (`marketing_optin`) and SMS (`channels.sms.allow_marketing`)
 * consent, or the outcome when there is nothing to send. Email marketing consent is
 * `marketing_optin` (esp-contracts.md §5.2); SMS consent is `channels.sms.allow_marketing`
 * (§5.2 lists `"channels": {"sms": ...}`; Ometria's "SMS double opt-in via API" and "Collecting
 * phone numbers and SMS marketing preferences" articles: SMS preferences are updated through the
 * push contacts endpoint with `allow_marketing`; our read-back reads the same field). Tracking
 * consent has no field at all; push has no channel.
 */
export function toContactRecord(
  snapshot: ContactSnapshot,
  settings: Pick<OmetriaSettings, 'collection' | 'listingId'>,
): OmetriaPlan {
  const skipped: ChannelResult[] = [];
  const covered: string[] = [];
  for (const [channel, state] of Object.entries(snapshot.marketing)) {
    if (!isDecided(state)) skipped.push(onChannel(channel, notApplicable(`${channel} consent is unknown; nothing to push`), false));
    else if (channel === 'email' || channel === 'sms') covered.push(channel);
    else skipped.push(onChannel(channel, notApplicable(NO_CHANNEL(channel))));
  }
  if (isDecided(snapshot.tracking)) skipped.push(onChannel('tracking', notApplicable(NO_TRACKING)));
  const email = snapshot.marketing['email'];
  const sms = snapshot.marketing['sms'];
  const none = (outcome: PushOutcome): OmetriaPlan => ({ outcome, covered, skipped });
  if (covered.length === 0) return none(notApplicable('no email or SMS consent to push'));
  if (!snapshot.identities.email) return none(missingIdentity('Ometria contact records need an email address'));
  if (!PLAUSIBLE_EMAIL.test(snapshot.identities.email.trim())) {
    return none(deadLetter('email address is not valid for Ometria (it would fail validation after the push)'));
  }
  const id = settings.listingId === 'externalId' ? snapshot.identities.externalId : snapshot.contactId;
  if (!id) return none(missingIdentity('OMETRIA_LISTING_ID=externalId but the contact has no externalId'));
  const record: OmetriaContactRecord = {
    '@type': 'contact',
    '@collection': settings.collection,
    id,
    email: snapshot.identities.email,
  };
  if (snapshot.identities.externalId) record.customer_id = snapshot.identities.externalId;
  if (snapshot.identities.phone) record.phone_number = snapshot.identities.phone;
  if (isDecided(email)) {
    const optedIn = email.state === 'opted_in';
    record.marketing_optin = optedIn ? 'EXPLICITLY_OPTEDIN' : 'EXPLICITLY_OPTEDOUT';
    // §5.3: an explicit timestamp is used when present, otherwise Ometria stamps the time of receipt.
    if (email.moment) record[optedIn ? 'timestamp_subscribed' : 'timestamp_unsubscribed'] = email.moment;
  }
  if (isDecided(sms)) {
    const optedIn = sms.state === 'opted_in';
    record.channels = {
      sms: {
        allow_marketing: optedIn,
        ...(sms.moment ? { [optedIn ? 'timestamp_subscribed' : 'timestamp_unsubscribed']: sms.moment } : {}),
      },
    };
  }
  // `@force_optin` is top-level, one per listing (seeds/004). Records merge into the existing
  // listing (§5.2), so a force set earlier stays unless we send false; product.md §1 rule 6 says a
  // non-forced state replaces an earlier force. The email state's authority decides it; an
  // SMS-only record carries the SMS state's.
  const decider = isDecided(email) ? email : sms;
  if (isDecided(decider)) record['@force_optin'] = decider.authoritative;
  return { record, covered, skipped };
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** Reads `{"status":"OK","request_id":…,"accepted":n,"rejected":m}`; undefined when it is not that. */
export function parsePushResponse(body: unknown): OmetriaPushResponse | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  const accepted = count(b['accepted']);
  const rejected = count(b['rejected']);
  if (typeof b['status'] !== 'string' || accepted === undefined || rejected === undefined) return undefined;
  return {
    status: b['status'],
    accepted,
    rejected,
    ...(typeof b['request_id'] === 'string' ? { requestId: b['request_id'] } : {}),
  };
}

/** `OK` only means received and authenticated; `rejected` says how many records failed validation. */
export function pushVerdict(response: OmetriaPushResponse | undefined, recordCount: number): PushVerdict {
  if (response === undefined) return 'unreadable';
  if (response.status.toUpperCase() !== 'OK') return 'unreadable';
  if (response.rejected === 0) return 'accepted';
  if (response.rejected >= recordCount) return 'rejected';
  return 'partial';
}

/**
 * A dead-letter reason from `GET /v2/push/_errors` (`[{error_message, error_path}]`, the last 100
 * errors account-wide). The entries name no record, so the reason says they are the latest errors.
 */
export function rejectionReason(errors: unknown, limit = 3): string {
  const base = 'Ometria rejected the record';
  if (!Array.isArray(errors) || errors.length === 0) return `${base} (no details in /v2/push/_errors)`;
  const texts = new Set<string>();
  for (const entry of errors) {
    if (entry === null || typeof entry !== 'object') continue;
    const e = entry as Record<string, unknown>;
    const message = typeof e['error_message'] === 'string' ? e['error_message'] : undefined;
    if (!message) continue;
    texts.add(typeof e['error_path'] === 'string' ? `${message} at ${e['error_path']}` : message);
    if (texts.size >= limit) break;
  }
  return texts.size === 0
    ? `${base} (no details in /v2/push/_errors)`
    : `${base}; latest push errors: ${[...texts].join('; ')}`;
}
