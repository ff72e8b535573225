import type { OmetriaSettings } from '../../../config/esps.js';
import { deadLetter, isDecided, missingIdentity, notApplicable } from '../outcome.js';
import type { ContactSnapshot, PushOutcome } from '../types.js';

/** One contact record of `POST /v2/push` (esp-contracts.md §5.2). */
export interface OmetriaContactRecord {
  '@type': 'contact';
  '@collection': string;
  /** Contact-listing id: must not contain PII, hence our contactId by default. */
  id: string;
  customer_id?: string;
  email: string;
  marketing_optin: 'EXPLICITLY_OPTEDIN' | 'EXPLICITLY_OPTEDOUT';
  '@force_optin': boolean;
  timestamp_subscribed?: string;
  timestamp_unsubscribed?: string;
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

/**
 * A record for the contact's email consent, or the outcome when there is nothing to send.
 * Ometria's push carries marketing consent for email only: the `channels.sms` shape is not in the
 * contract (§5.2), and tracking consent has no field at all.
 */
export function toContactRecord(
  snapshot: ContactSnapshot,
  settings: Pick<OmetriaSettings, 'collection' | 'listingId'>,
): { record: OmetriaContactRecord } | { outcome: PushOutcome } {
  const email = snapshot.marketing['email'];
  if (!isDecided(email)) return { outcome: notApplicable('email consent is unknown; nothing to push') };
  if (!snapshot.identities.email)
    return { outcome: missingIdentity('Ometria contact records need an email address') };
  if (!PLAUSIBLE_EMAIL.test(snapshot.identities.email.trim())) {
    return {
      outcome: deadLetter('email address is not valid for Ometria (it would fail validation after the push)'),
    };
  }
  const id = settings.listingId === 'externalId' ? snapshot.identities.externalId : snapshot.contactId;
  if (!id)
    return { outcome: missingIdentity('OMETRIA_LISTING_ID=externalId but the contact has no externalId') };
  const optedIn = email.state === 'opted_in';
  const record: OmetriaContactRecord = {
    '@type': 'contact',
    '@collection': settings.collection,
    id,
    email: snapshot.identities.email,
    marketing_optin: optedIn ? 'EXPLICITLY_OPTEDIN' : 'EXPLICITLY_OPTEDOUT',
    // Records merge into the existing listing (§5.2), so a force set earlier stays unless we send
    // false; product.md §1 rule 6 says a non-forced state replaces an earlier force.
    '@force_optin': email.authoritative,
  };
  if (snapshot.identities.externalId) record.customer_id = snapshot.identities.externalId;
  // §5.3: an explicit timestamp is used when present, otherwise Ometria stamps the time of receipt.
  if (email.moment) record[optedIn ? 'timestamp_subscribed' : 'timestamp_unsubscribed'] = email.moment;
  return { record };
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
