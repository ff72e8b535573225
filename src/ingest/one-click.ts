import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { z } from 'zod';

/**
 * RFC 8058 one-click unsubscribe tokens and List-Unsubscribe headers (esp-contracts.md §7;
 * reliability.md §5.3).
 *
 * A token is opaque, URL-safe (base64url) and versioned. Version 1 layout (bytes):
 *
 *   0x01 | nonce (12) | AES-256-GCM ciphertext of the payload JSON | GCM tag (16) | HMAC-SHA256 (first 16)
 *
 * - Both keys are derived from the secret (UNSUBSCRIBE_SECRET) with HKDF-SHA256, one for
 *   encryption and one for the MAC, so the secret itself never keys two algorithms.
 * - The payload (contact reference or identity, channel, optional list, issued-at) is encrypted: no
 *   PII is readable from the link. Prefer `contact:<contactId>` keys, which carry no PII at all.
 * - The HMAC over everything before it is checked first (constant time), then GCM authenticates
 *   again while decrypting; any changed, added or removed byte — or a non-canonical base64url
 *   spelling of the same bytes — is rejected.
 * - Verification never says why a token failed beyond the `reason` meant for logs; the endpoint
 *   answers only "invalid link".
 */

export const TOKEN_VERSION = 1;
const NONCE_BYTES = 12;
const GCM_TAG_BYTES = 16;
const MAC_BYTES = 16;
const MAX_TOKEN_CHARS = 2_048;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Who a token unsubscribes: `contact:<contactId>` (a reference to our contact, no PII),
 * `externalId:<id>`, `email:<address>` or `phone:<e164>`.
 */
const CONTACT_KEY = /^(contact|externalId|email|phone):(?=\S)\P{Cc}{1,320}$/u;

export interface UnsubscribeTokenInput {
  contactKey: string;
  /** A canonical channel (`email`, `sms`, `push`) or `all`. */
  channel: string;
  /** The mailing list the message was sent for (kept in the event's properties). */
  listId?: string;
  /** Qualifies an `email:` key (CrossEngage leads are email + business unit). */
  businessUnit?: string;
}

export interface UnsubscribeTokenPayload extends UnsubscribeTokenInput {
  issuedAt: Date;
}

export type TokenVerification =
  | {
      ok: true;
      payload: UnsubscribeTokenPayload /** Stable id of this exact token (hex). */;
      tokenId: string;
    }
  | { ok: false; reason: 'malformed' | 'version' | 'signature' | 'payload' | 'expired' };

const payloadSchema = z.strictObject({
  k: z.string().regex(CONTACT_KEY),
  c: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/),
  l: z.string().min(1).max(200).optional(),
  b: z.string().min(1).max(100).optional(),
  t: z.number().int().nonnegative(),
});

const keyCache = new Map<string, { enc: Buffer; mac: Buffer }>();

function keysFor(secret: string): { enc: Buffer; mac: Buffer } {
  const cacheKey = createHash('sha256').update(secret).digest('hex');
  let keys = keyCache.get(cacheKey);
  if (!keys) {
    const derive = (info: string) =>
      Buffer.from(hkdfSync('sha256', secret, 'consent-sync/unsubscribe-token', info, 32));
    keys = { enc: derive('v1 encryption'), mac: derive('v1 mac') };
    if (keyCache.size >= 8) keyCache.clear();
    keyCache.set(cacheKey, keys);
  }
  return keys;
}

function mac(key: Buffer, data: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest().subarray(0, MAC_BYTES);
}

/** Throws TypeError for a key or channel that no endpoint could act on. */
export function createUnsubscribeToken(
  input: UnsubscribeTokenInput,
  secret: string,
  issuedAt: Date = new Date(),
): string {
  if (!secret) throw new TypeError('an unsubscribe secret is required');
  const payload = payloadSchema.safeParse({
    k: input.contactKey,
    c: input.channel,
    ...(input.listId !== undefined ? { l: input.listId } : {}),
    ...(input.businessUnit !== undefined ? { b: input.businessUnit } : {}),
    t: Math.floor(issuedAt.getTime() / 1000),
  });
  if (!payload.success) {
    throw new TypeError(
      `invalid unsubscribe token input: ${payload.error.issues.map((i) => i.path.join('.')).join(', ')}`,
    );
  }
  const { enc, mac: macKey } = keysFor(secret);
  const version = Buffer.from([TOKEN_VERSION]);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', enc, nonce);
  cipher.setAAD(version);
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(payload.data), 'utf8'), cipher.final()]);
  const body = Buffer.concat([version, nonce, ciphertext, cipher.getAuthTag()]);
  return Buffer.concat([body, mac(macKey, body)]).toString('base64url');
}

/** Checks and opens a token. Never throws. `maxAgeS` 0 = no expiry. */
export function verifyUnsubscribeToken(
  token: string,
  secret: string,
  opts: { now?: Date; maxAgeS?: number } = {},
): TokenVerification {
  if (
    typeof token !== 'string' ||
    token.length === 0 ||
    token.length > MAX_TOKEN_CHARS ||
    !BASE64URL.test(token)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const bytes = Buffer.from(token, 'base64url');
  // Base64url ignores some bit-level differences in the last character: only the canonical spelling counts.
  if (bytes.toString('base64url') !== token) return { ok: false, reason: 'malformed' };
  if (bytes.length < 1 + NONCE_BYTES + 1 + GCM_TAG_BYTES + MAC_BYTES)
    return { ok: false, reason: 'malformed' };
  if (bytes[0] !== TOKEN_VERSION) return { ok: false, reason: 'version' };
  if (!secret) return { ok: false, reason: 'signature' };
  const { enc, mac: macKey } = keysFor(secret);
  const body = bytes.subarray(0, bytes.length - MAC_BYTES);
  if (!timingSafeEqual(mac(macKey, body), bytes.subarray(bytes.length - MAC_BYTES))) {
    return { ok: false, reason: 'signature' };
  }
  let json: string;
  try {
    const nonce = body.subarray(1, 1 + NONCE_BYTES);
    const tag = body.subarray(body.length - GCM_TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', enc, nonce);
    decipher.setAAD(body.subarray(0, 1));
    decipher.setAuthTag(tag);
    json = Buffer.concat([
      decipher.update(body.subarray(1 + NONCE_BYTES, body.length - GCM_TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    return { ok: false, reason: 'signature' };
  }
  let parsed: z.infer<typeof payloadSchema>;
  try {
    const result = payloadSchema.safeParse(JSON.parse(json));
    if (!result.success) return { ok: false, reason: 'payload' };
    parsed = result.data;
  } catch {
    return { ok: false, reason: 'payload' };
  }
  const maxAgeS = opts.maxAgeS ?? 0;
  const nowS = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  if (maxAgeS > 0 && nowS - parsed.t > maxAgeS) return { ok: false, reason: 'expired' };
  return {
    ok: true,
    tokenId: createHash('sha256').update(bytes).digest('hex').slice(0, 40),
    payload: {
      contactKey: parsed.k,
      channel: parsed.c,
      ...(parsed.l !== undefined ? { listId: parsed.l } : {}),
      ...(parsed.b !== undefined ? { businessUnit: parsed.b } : {}),
      issuedAt: new Date(parsed.t * 1000),
    },
  };
}

/**
 * The opt_out event id of a click on token `tokenId` at `at`: repeated clicks on the same link on
 * the same (UTC) day are duplicates; a click on a later day is a new objection, so it still wins
 * over a re-opt-in given in between (a person's objection is never overridden by an older decision).
 */
export function oneClickEventId(tokenId: string, at: Date): string {
  return `lu:${tokenId}:${at.toISOString().slice(0, 10).replace(/-/g, '')}`;
}

export type ContactRef =
  | { kind: 'contact'; contactId: string }
  | {
      kind: 'identity';
      identity: { externalId?: string; email?: string; phone?: string; businessUnit?: string };
    };

export function parseContactKey(contactKey: string, businessUnit?: string): ContactRef {
  const colon = contactKey.indexOf(':');
  const type = contactKey.slice(0, colon);
  const value = contactKey.slice(colon + 1);
  switch (type) {
    case 'contact':
      return { kind: 'contact', contactId: value };
    case 'externalId':
      return { kind: 'identity', identity: { externalId: value } };
    case 'email':
      return { kind: 'identity', identity: businessUnit ? { email: value, businessUnit } : { email: value } };
    default:
      return { kind: 'identity', identity: { phone: value } };
  }
}

export interface ListUnsubscribeConfig {
  /** PUBLIC_BASE_URL, e.g. https://consent.example.com (RFC 8058 needs https). */
  publicBaseUrl: string;
  /** UNSUBSCRIBE_SECRET. */
  secret: string;
  /** LIST_UNSUBSCRIBE_MAILTO: adds a mailto URI after the https one. */
  mailto?: string | undefined;
  /** Token issue time; default now. */
  issuedAt?: Date;
}

export interface ListUnsubscribeHeaders {
  'List-Unsubscribe': string;
  'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click';
}

/** The one-click URL of a token. */
export function unsubscribeUrl(publicBaseUrl: string, token: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/u/${token}`;
}

/**
 * Header values for one message (RFC 8058 §3; RFC 2369): `List-Unsubscribe: <https://…/u/<token>>`
 * (then `<mailto:…>` when configured) and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
 * exactly. The sender's DKIM signature must cover both headers.
 */
export function listUnsubscribeHeaders(
  contact: { contactKey: string; listId?: string; businessUnit?: string },
  channel: string,
  config: ListUnsubscribeConfig,
): ListUnsubscribeHeaders {
  const token = createUnsubscribeToken(
    {
      contactKey: contact.contactKey,
      channel,
      ...(contact.listId !== undefined ? { listId: contact.listId } : {}),
      ...(contact.businessUnit !== undefined ? { businessUnit: contact.businessUnit } : {}),
    },
    config.secret,
    config.issuedAt ?? new Date(),
  );
  const uris = [`<${unsubscribeUrl(config.publicBaseUrl, token)}>`];
  if (config.mailto) uris.push(`<mailto:${config.mailto}?subject=unsubscribe%20${token}>`);
  return { 'List-Unsubscribe': uris.join(', '), 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}
