import { parseRetryAfter } from './retry-after.js';

/**
 * What an ESP failure means for the next step (src/README.md, "Failures, in one vocabulary"). Decided by type and HTTP
 * status only, never by message text.
 */
export type EspErrorKind = 'retryable' | 'rate_limited' | 'permanent' | 'auth';

export interface Classification {
  kind: EspErrorKind;
  retryAfterMs?: number;
  status?: number;
  reason: string;
}

/** Statuses that say "try again" (reliability.md §4; 425 per RFC 8470). 5xx are added by range. */
const RETRYABLE_STATUSES = new Set([408, 425]);

/** Transport failures: no response, or the connection broke mid-way. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'ERR_NETWORK',
  'ERR_BAD_RESPONSE',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

function field(value: unknown, key: string): unknown {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

const KINDS: ReadonlySet<unknown> = new Set<EspErrorKind>(['retryable', 'rate_limited', 'permanent', 'auth']);

function isKind(value: unknown): value is EspErrorKind {
  return KINDS.has(value);
}

function validStatus(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599
    ? value
    : undefined;
}

/** Classifies a known HTTP status. Exported for adapters that get a status without an error. */
export function classifyStatus(
  status: number,
  headers: unknown,
  nowMs: number,
  capMs: number,
): Classification {
  const retryAfterMs = parseRetryAfter(headers, nowMs, capMs);
  const withDelay = (c: Classification): Classification =>
    retryAfterMs === undefined ? c : { ...c, retryAfterMs };
  if (status === 401 || status === 403)
    return {
      kind: 'auth',
      status,
      reason: `HTTP ${status}: credentials rejected`,
    };
  if (status === 429)
    return withDelay({
      kind: 'rate_limited',
      status,
      reason: 'HTTP 429: rate limited',
    });
  if (RETRYABLE_STATUSES.has(status) || status >= 500) {
    return withDelay({
      kind: 'retryable',
      status,
      reason: `HTTP ${status}: transient server error`,
    });
  }
  if (status >= 400)
    return {
      kind: 'permanent',
      status,
      reason: `HTTP ${status}: request rejected`,
    };
  // With maxRedirects 0 a 3xx surfaces as an error; it means a wrong base URL, not a transient state.
  return {
    kind: 'permanent',
    status,
    reason: `HTTP ${status}: unexpected status for an ESP call`,
  };
}

/**
 * Classifies anything a request can throw: the HTTP client's status or transport error, an
 * EspError, a Node network error, or a bare `{ status, headers }`. Pure apart from reading its input; never throws.
 */
export function classifyHttpError(err: unknown, nowMs: number, capMs: number): Classification {
  try {
    const ownKind = field(err, 'kind');
    if (field(err, 'name') === 'EspError' && isKind(ownKind)) {
      const status = validStatus(field(err, 'status'));
      const retryAfterMs = field(err, 'retryAfterMs');
      const message = field(err, 'message');
      return {
        kind: ownKind,
        reason: typeof message === 'string' ? message : 'EspError',
        ...(status === undefined ? {} : { status }),
        ...(typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs)
          ? {
              retryAfterMs: Math.min(
                Math.max(0, retryAfterMs),
                Number.isFinite(capMs) ? Math.max(0, capMs) : 0,
              ),
            }
          : {}),
      };
    }
    const response = field(err, 'response');
    const status = validStatus(field(response, 'status')) ?? validStatus(field(err, 'status'));
    if (status !== undefined) {
      const headers = response === undefined ? field(err, 'headers') : field(response, 'headers');
      return classifyStatus(status, headers, nowMs, capMs);
    }
    const code = field(err, 'code');
    if (typeof code === 'string' && NETWORK_CODES.has(code)) {
      const timedOut = code === 'ETIMEDOUT' || code === 'ECONNABORTED' || code.includes('TIMEOUT');
      return {
        kind: 'retryable',
        reason: timedOut ? `timeout (${code})` : `network error (${code})`,
      };
    }
    const name = field(err, 'name');
    if (name === 'TimeoutError') return { kind: 'retryable', reason: 'timeout' };
    // An error without a response or a known network code is a bug or a misuse; retrying hides it.
    return {
      kind: 'permanent',
      reason: `unclassified failure (${typeof name === 'string' ? name : typeof err})`,
    };
  } catch {
    return { kind: 'permanent', reason: 'unclassified failure' };
  }
}
