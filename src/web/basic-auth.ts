import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './errors.js';

/**
 * HTTP Basic and Bearer authentication helpers with constant-time comparison.
 *
 * Secrets are compared as SHA-256 digests: both sides are always 32 bytes, so
 * `timingSafeEqual` never throws on a length mismatch and the time taken does not depend on where
 * (or whether) the strings differ, nor on the length of the expected secret.
 */

export interface Credentials {
  username: string;
  password: string;
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Constant-time string equality (time independent of content and of the expected length). */
export function safeEqual(actual: string, expected: string): boolean {
  return timingSafeEqual(digest(actual), digest(expected));
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Parses an `Authorization: Basic <base64(user:password)>` header (RFC 7617). The scheme is
 * case-insensitive; the password may contain ':' (only the first ':' separates); the user id may
 * not. Returns null for anything malformed: no header, other scheme, bad base64, no ':'.
 */
export function parseBasicAuth(header: string | undefined): Credentials | null {
  if (typeof header !== 'string' || header.length > 4096) return null;
  const match = /^\s*basic\s+(\S+)\s*$/i.exec(header);
  const encoded = match?.[1];
  if (!encoded || encoded.length % 4 !== 0 || !BASE64.test(encoded)) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * True when the header carries exactly the expected credentials. Both parts are always compared
 * (no short-circuit on a wrong user name), so the timing says nothing about which one was wrong.
 */
export function checkBasicAuth(header: string | undefined, expected: Credentials): boolean {
  const given = parseBasicAuth(header);
  const userOk = safeEqual(given?.username ?? '', expected.username);
  const passwordOk = safeEqual(given?.password ?? '', expected.password);
  return given !== null && userOk && passwordOk;
}

/**
 * The token of an `Authorization: Bearer <token>` header, or null. Any run of non-space
 * characters is accepted (not only RFC 6750 token68), so an operator-chosen token always works.
 */
export function parseBearer(header: string | undefined): string | null {
  if (typeof header !== 'string' || header.length > 4096) return null;
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/** True when the header carries the expected bearer token (constant-time). */
export function checkBearer(header: string | undefined, expected: string): boolean {
  const token = parseBearer(header);
  const ok = safeEqual(token ?? '', expected);
  return token !== null && ok;
}

/** A Fastify onRequest hook answering 401 with a Basic challenge unless the credentials match. */
export function basicAuthHook(expected: Credentials, realm: string) {
  const challenge = `Basic realm="${realm.replace(/["\\]/g, '')}", charset="UTF-8"`;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (checkBasicAuth(request.headers.authorization, expected)) return undefined;
    return reply
      .code(401)
      .header('www-authenticate', challenge)
      .header('cache-control', 'no-store')
      .send(errorBody('unauthorized', 'authentication required'));
  };
}
