import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { WebhookAuth } from '../../config/webhooks.js';

/**
 * Authentication of inbound ESP webhooks (reliability.md §5.2).
 *
 * `hmac` — our signature scheme, Stripe-like (reliability.md §5.2), for senders that sign:
 *   X-Webhook-Timestamp: <unix seconds>
 *   X-Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body bytes>")>[, v1=<hex>…]
 *   X-Webhook-Id:        <delivery id>   (optional; logged only, never trusted: it is not signed)
 * The timestamp must lie within ±maxSkewS of our clock; several `v1=` values and several secrets
 * (rotation) are accepted; comparisons are constant-time on equal-length buffers.
 *
 * `key:<Header>` — Optimizely's keyAuth (esp-contracts.md §1.2): the named header carries the secret.
 * `basic:<user>` — Optimizely's basicAuth: `Authorization: Basic base64(user:secret)`.
 * These carry no timestamp; their replays are made harmless by deterministic event ids (a
 * redelivered event is a `duplicate`), see webhook-events.ts.
 */

export const WEBHOOK_HEADERS = {
  id: 'x-webhook-id',
  timestamp: 'x-webhook-timestamp',
  signature: 'x-webhook-signature',
} as const;

export const SIGNATURE_VERSION = 'v1';

export type VerifyFailure =
  | 'missing_signature'
  | 'bad_timestamp'
  | 'stale_timestamp'
  | 'bad_signature'
  | 'missing_credentials'
  | 'bad_credentials';

export type VerifyResult =
  | {
      ok: true /** Set for signed deliveries: identifies this exact delivery (timestamp + signature). */;
      replayKey?: string;
    }
  | { ok: false; reason: VerifyFailure };

type HeaderValue = string | string[] | undefined;
export type Headers = Readonly<Record<string, HeaderValue>>;

const MAX_HEADER_LENGTH = 4_096;

function single(value: HeaderValue): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === 'string' && v.length <= MAX_HEADER_LENGTH ? v : undefined;
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Constant-time string equality; never throws (both sides hashed to 32 bytes first). */
export function safeEqual(actual: string, expected: string): boolean {
  return timingSafeEqual(sha256(actual), sha256(expected));
}

/** `v1=<hex>` for `rawBody` sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, timestamp: number | string, rawBody: Buffer | string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`, 'utf8').update(rawBody).digest('hex');
  return `${SIGNATURE_VERSION}=${mac}`;
}

/** The headers a signing sender adds (tests and tools). */
export function signedHeaders(
  secret: string,
  rawBody: Buffer | string,
  timestamp: number = Math.floor(Date.now() / 1000),
  deliveryId?: string,
): Record<string, string> {
  return {
    [WEBHOOK_HEADERS.timestamp]: String(timestamp),
    [WEBHOOK_HEADERS.signature]: signWebhook(secret, timestamp, rawBody),
    ...(deliveryId ? { [WEBHOOK_HEADERS.id]: deliveryId } : {}),
  };
}

/** The 32-byte MACs of a signature header; malformed entries are skipped. */
function signatureCandidates(header: string): Buffer[] {
  const out: Buffer[] = [];
  for (const part of header.split(/[,\s]+/)) {
    const eq = part.indexOf('=');
    if (eq <= 0 || part.slice(0, eq) !== SIGNATURE_VERSION) continue;
    const hex = part.slice(eq + 1);
    if (/^[0-9a-fA-F]{64}$/.test(hex)) out.push(Buffer.from(hex, 'hex'));
    if (out.length >= 8) break;
  }
  return out;
}

export interface HmacInput {
  secrets: readonly string[];
  rawBody: Buffer;
  headers: Headers;
  nowMs: number;
  maxSkewS: number;
}

/** Verifies the `hmac` scheme (see the module comment). Never throws. */
export function verifyHmacSignature({ secrets, rawBody, headers, nowMs, maxSkewS }: HmacInput): VerifyResult {
  const signature = single(headers[WEBHOOK_HEADERS.signature]);
  const timestamp = single(headers[WEBHOOK_HEADERS.timestamp]);
  if (!signature || timestamp === undefined) return { ok: false, reason: 'missing_signature' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'bad_timestamp' };
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > maxSkewS) return { ok: false, reason: 'stale_timestamp' };
  const candidates = signatureCandidates(signature);
  if (candidates.length === 0) return { ok: false, reason: 'bad_signature' };
  let match: Buffer | undefined;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(`${timestamp}.`, 'utf8').update(rawBody).digest();
    for (const candidate of candidates) {
      // Both are 32 bytes (checked by signatureCandidates), so timingSafeEqual cannot throw.
      if (timingSafeEqual(candidate, expected)) match ??= expected;
    }
  }
  if (!match) return { ok: false, reason: 'bad_signature' };
  return { ok: true, replayKey: createHash('sha256').update(`${timestamp}.`).update(match).digest('hex') };
}

function verifyKey(header: string, secrets: readonly string[], headers: Headers): VerifyResult {
  const presented = single(headers[header]);
  if (presented === undefined || presented === '') return { ok: false, reason: 'missing_credentials' };
  let ok = false;
  for (const secret of secrets) ok = safeEqual(presented, secret) || ok;
  return ok ? { ok: true } : { ok: false, reason: 'bad_credentials' };
}

function verifyBasic(username: string, secrets: readonly string[], headers: Headers): VerifyResult {
  const header = single(headers['authorization']);
  const encoded = header ? /^\s*basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header)?.[1] : undefined;
  if (!encoded) return { ok: false, reason: 'missing_credentials' };
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { ok: false, reason: 'bad_credentials' };
  const userOk = safeEqual(decoded.slice(0, colon), username);
  let passwordOk = false;
  for (const secret of secrets) passwordOk = safeEqual(decoded.slice(colon + 1), secret) || passwordOk;
  return userOk && passwordOk ? { ok: true } : { ok: false, reason: 'bad_credentials' };
}

/** Authenticates one delivery with the endpoint's configured scheme. Never throws. */
export function verifyWebhook(auth: WebhookAuth, input: HmacInput): VerifyResult {
  if (input.secrets.length === 0) return { ok: false, reason: 'bad_credentials' };
  switch (auth.type) {
    case 'hmac':
      return verifyHmacSignature(input);
    case 'key':
      return verifyKey(auth.header, input.secrets, input.headers);
    case 'basic':
      return verifyBasic(auth.username, input.secrets, input.headers);
  }
}
