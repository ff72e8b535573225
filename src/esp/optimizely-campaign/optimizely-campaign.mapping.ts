import type { EspErrorKind } from '../kit/http/classify.js';
import { ALREADY_IN_STATE, deadLetter, notApplicable, PUSHED } from '../kit/outcome.js';
import type { PushOutcome } from '../types.js';

/**
 * Optimizely Campaign result tokens and REST result shapes (esp-contracts.md §1).
 * NOT FOUND in vendor docs; default per esp-contracts.md §1.1: 200 text/plain, parse token by prefix
 * (the byte-exact `wrong_tag` format is unknown, so a code may or may not follow it).
 */

export type HttpOperation =
  | 'unsubscribe'
  | 'subscribe'
  | 'blacklist'
  | 'unblacklist'
  | 'createtrackingoptout'
  | 'deletetrackingoptout';

export type OptimizelyToken =
  | { token: 'ok'; detail?: string }
  | { token: 'enqueued' }
  | { token: 'vetoed' }
  | { token: 'wrong_tag'; code?: number }
  | { token: 'missing_id' }
  | { token: 'system_error' }
  | { token: 'duplicate' }
  | { token: 'blacklisted' }
  | { token: 'unsubscribed' }
  | { token: 'unknown'; text: string };

/** DOC §1.1: the codes that may accompany `wrong_tag`. */
export const WRONG_TAG_CODES: Readonly<Record<number, string>> = {
  501: 'wrong authentication tag',
  502: 'wrong request IP',
  503: 'wrong request method',
  504: 'wrong protocol',
  505: 'wrong recipient list',
  506: 'wrong action',
  507: 'action not found',
};

export function parseToken(body: unknown): OptimizelyToken {
  const text = (
    typeof body === 'string' ? body : body === undefined || body === null ? '' : String(body)
  ).trim();
  const lower = text.toLowerCase();
  const ok = /^ok(?:\s*:\s*(.*))?$/s.exec(lower);
  if (ok) return ok[1] ? { token: 'ok', detail: ok[1].trim() } : { token: 'ok' };
  if (lower.startsWith('wrong_tag')) {
    const code = /^wrong_tag\D*(\d{3})/.exec(lower)?.[1];
    return code ? { token: 'wrong_tag', code: Number(code) } : { token: 'wrong_tag' };
  }
  for (const token of [
    'enqueued',
    'vetoed',
    'missing_id',
    'system_error',
    'duplicate',
    'blacklisted',
    'unsubscribed',
  ] as const) {
    if (lower.startsWith(token)) return { token };
  }
  return { token: 'unknown', text: text.slice(0, 120) };
}

/** A token either settles the contact's outcome or fails the whole call with an error kind. */
export type TokenResult = { outcome: PushOutcome } | { error: { kind: EspErrorKind; reason: string } };

const ALREADY = new Set(['already_unsubscribed', 'already_blacklisted', 'not_found']);

export function tokenResult(
  operation: HttpOperation,
  token: OptimizelyToken,
  options: { systemErrorRetry: boolean } = { systemErrorRetry: true },
): TokenResult {
  switch (token.token) {
    case 'ok':
      // `not_found`: no such recipient (unsubscribe with bmRemoveId, unblacklist): nothing is mailable.
      return {
        outcome: token.detail && ALREADY.has(token.detail.replace(/\s+/g, '')) ? ALREADY_IN_STATE : PUSHED,
      };
    case 'enqueued':
      return { outcome: PUSHED };
    case 'vetoed':
      return {
        outcome: notApplicable(
          `Optimizely ${operation} is deactivated for this client (vetoed); support must activate it`,
        ),
      };
    case 'wrong_tag': {
      const what = token.code ? ` ${token.code}: ${WRONG_TAG_CODES[token.code] ?? 'unknown code'}` : '';
      // A configuration failure hits every contact alike: pause the ESP (auth) instead of dead-lettering each.
      return {
        error: { kind: 'auth', reason: `Optimizely HTTP API answered wrong_tag${what} (configuration)` },
      };
    }
    case 'missing_id':
      return {
        outcome: deadLetter(`Optimizely ${operation} answered missing_id (no bmRecipientId reached it)`),
      };
    case 'system_error':
      // INFERENCE per esp-contracts.md §1.1: retryable with backoff (OPTIMIZELY_SYSTEM_ERROR_RETRY).
      return options.systemErrorRetry
        ? { error: { kind: 'retryable', reason: `Optimizely ${operation} answered system_error` } }
        : { outcome: deadLetter(`Optimizely ${operation} answered system_error`) };
    case 'duplicate':
      return { outcome: ALREADY_IN_STATE };
    case 'blacklisted':
      return {
        outcome: { kind: 'reactivation_blocked', reason: 'recipient is blacklisted at Optimizely Campaign' },
      };
    case 'unsubscribed':
      // NOT FOUND (§1.1 full subscribe failure list); INFERENCE shared with the simulator: the HTTP
      // subscribe refuses an unsubscribed recipient unless an opt-in process (bmOptInId) runs.
      return {
        outcome: {
          kind: 'reactivation_blocked',
          reason:
            'Optimizely refuses to subscribe an unsubscribed recipient without an opt-in process (set OPTIMIZELY_OPTIN_PROCESS_ID or use the REST API)',
        },
      };
    case 'unknown':
      return {
        outcome: deadLetter(`Optimizely ${operation} answered an unrecognised token "${token.text}"`),
      };
  }
}

/** HTTP API parameters (case-sensitive, §1.1). bmVerbose turns on the `ok: already_…` variants. */
export function httpApiParams(
  operation: HttpOperation,
  target: { recipientId?: string; pattern?: string },
  options: { optInProcessId?: string; blacklistReason: string },
): Record<string, string> {
  switch (operation) {
    case 'blacklist':
      return { bmPattern: target.pattern ?? '', bmReason: options.blacklistReason, bmVerbose: 'true' };
    case 'unblacklist':
      return { bmPattern: target.pattern ?? '', bmVerbose: 'true' };
    case 'subscribe':
      return {
        bmRecipientId: target.recipientId ?? '',
        ...(options.optInProcessId ? { bmOptInId: options.optInProcessId } : {}),
      };
    default:
      return { bmRecipientId: target.recipientId ?? '', bmVerbose: 'true' };
  }
}

/** Blocklist entries treat `*` and `?` as wildcards; escape them so an address matches only itself (§1.2). */
export function blacklistPattern(email: string): string {
  return email.replace(/[\\*?]/g, (c) => `\\${c}`);
}

/**
 * Reads `{"successfulIds":[…],"unsuccessfulIds":[…]}` of `POST /unsubscribes` (§1.2): returns the
 * ids reported unsuccessful (case-insensitively, ids are usually emails). Partial success is normal.
 */
export function unsuccessfulIds(body: unknown): Set<string> {
  return lowerIds(field(body, 'unsuccessfulIds'));
}

/**
 * Reads a page of `GET /unsubscribes` (`{"elements":[{"recipientId",…}],"count","offset","limit"}`,
 * §1.2): the recipient ids on the list (lower-cased) and how many elements the page held.
 */
export function unsubscribedIds(body: unknown): { ids: Set<string>; elements: number } {
  const elements = field(body, 'elements');
  if (!Array.isArray(elements)) return { ids: new Set(), elements: 0 };
  return { ids: lowerIds(elements.map((e) => field(e, 'recipientId'))), elements: elements.length };
}

/** The strings of a list, lower-cased (recipient ids are usually emails, compared case-insensitively). */
export function lowerIds(list: unknown): Set<string> {
  const out = new Set<string>();
  if (Array.isArray(list)) for (const id of list) if (typeof id === 'string') out.add(id.toLowerCase());
  return out;
}

function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}
