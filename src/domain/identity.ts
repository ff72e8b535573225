import type { ContactIdentity } from './consent.js';

/**
 * Messages never contain the offending value: identities are personal data and errors end up in
 * logs. `field` says which input to fix.
 */
export class IdentityError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'IdentityError';
    this.field = field;
  }
}

// Deliberately plausible rather than RFC 5322: quoted local parts, IP-literal domains and comments
// are legal but never seen from real sign-ups, and accepting them would widen what reaches ESPs.
const LOCAL_PART = /^[\p{L}\p{N}\p{M}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{N}\p{M}!#$%&'*+/=?^_`{|}~-]+)*$/u;
const DOMAIN_LABEL = /^[\p{L}\p{N}\p{M}](?:[\p{L}\p{N}\p{M}-]{0,61}[\p{L}\p{N}\p{M}])?$/u;
const TOP_LEVEL_LABEL = /^(?:\p{L}{2,63}|xn--[a-z0-9-]{1,59})$/u;

/** Trims and lower-cases; throws IdentityError('email') when the result is not a plausible address. */
export function normaliseEmail(raw: string): string {
  if (typeof raw !== 'string') throw new IdentityError('email', 'must be a string');
  const email = raw.trim().toLowerCase();
  const at = email.indexOf('@');
  if (at <= 0 || at !== email.lastIndexOf('@') || email.length > 254) {
    throw new IdentityError('email', 'is not a plausible address');
  }
  const local = email.slice(0, at);
  const labels = email.slice(at + 1).split('.');
  const tld = labels[labels.length - 1] ?? '';
  const plausible =
    local.length <= 64 &&
    LOCAL_PART.test(local) &&
    labels.length >= 2 &&
    labels.every((label) => DOMAIN_LABEL.test(label)) &&
    TOP_LEVEL_LABEL.test(tld);
  if (!plausible) throw new IdentityError('email', 'is not a plausible address');
  return email;
}

// Separators people type or paste, including Unicode dashes and no-break spaces.
const PHONE_SEPARATORS = /[\s\-.()\u2010-\u2015\u2212]/gu;

/**
 * To E.164 (`+` and 8–15 digits, no leading zero). Only international numbers are accepted: with
 * no country configured, guessing one for a national number could suppress or message the wrong
 * person. `00` is the international call prefix and becomes `+`. `(0)` is the trunk-prefix
 * notation of "+44 (0)20 …" and is dropped, as dialling from abroad does.
 */
export function normalisePhone(raw: string): string {
  if (typeof raw !== 'string') throw new IdentityError('phone', 'must be a string');
  let phone = raw.trim().replace(/\(0\)/g, '').replace(PHONE_SEPARATORS, '');
  if (phone.startsWith('00')) phone = `+${phone.slice(2)}`;
  if (!/^\+[1-9]\d{7,14}$/.test(phone)) {
    throw new IdentityError('phone', 'is not an international number (E.164: + and 8 to 15 digits)');
  }
  return phone;
}

function trimmed(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new IdentityError(field, 'must be a string');
  const result = value.trim();
  // A blank value is rejected rather than dropped: it is almost always a caller bug, and silently
  // treating it as absent could attach consent to the wrong contact.
  if (result === '') throw new IdentityError(field, 'must not be blank');
  // Control characters and lone surrogates cannot be stored or encoded into lookup keys reliably.
  if (/[\p{Cc}\p{Cs}]/u.test(result)) throw new IdentityError(field, 'contains control characters');
  return result;
}

/**
 * Normalises every present identity; throws IdentityError naming the first bad field, or
 * `identity` when none of externalId, email and phone is present (a business unit alone only
 * qualifies an email and identifies nobody).
 */
export function normaliseIdentity(id: ContactIdentity): ContactIdentity {
  const result: ContactIdentity = {};
  if (id.externalId !== undefined) result.externalId = trimmed('externalId', id.externalId);
  if (id.email !== undefined) result.email = normaliseEmail(id.email);
  if (id.businessUnit !== undefined) result.businessUnit = trimmed('businessUnit', id.businessUnit);
  if (id.phone !== undefined) result.phone = normalisePhone(id.phone);
  if (result.externalId === undefined && result.email === undefined && result.phone === undefined) {
    throw new IdentityError('identity', 'needs an externalId, an email or a phone');
  }
  return result;
}

/** `-` stands for "no business unit", so a literal `-` (and `:`) must not appear in an encoded one. */
function encodeBusinessUnit(businessUnit: string | undefined): string {
  return businessUnit === undefined ? '-' : encodeURIComponent(businessUnit).replace(/-/g, '%2D');
}

/**
 * Lookup keys, one per identity, in a fixed order (ext, email, phone). An email key is scoped by
 * business unit because CrossEngage leads are (email, businessUnit) pairs. Normalises first, so
 * "Bob@X.org " and "bob@x.org" give the same key; throws IdentityError like normaliseIdentity.
 */
export function identityKeys(id: ContactIdentity): string[] {
  const n = normaliseIdentity(id);
  const keys: string[] = [];
  if (n.externalId !== undefined) keys.push(`ext:${n.externalId}`);
  if (n.email !== undefined) keys.push(`email:${encodeBusinessUnit(n.businessUnit)}:${n.email}`);
  if (n.phone !== undefined) keys.push(`phone:${n.phone}`);
  return keys;
}
