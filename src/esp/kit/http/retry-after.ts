/**
 * Server-suggested wait before the next request, from whichever header the ESP sends.
 * None of our five ESPs is documented to send any of them (esp-contracts.md §6), so every
 * value is optional and garbage is ignored rather than trusted.
 */

/** Anything header-shaped: Node's plain headers object, or a fetch `Headers`. */
export type HeaderSource = unknown;

const DELTA_SECONDS = /^\s*\d+(?:\.\d+)?\s*$/;
// Epoch values above these are absolute times; below, a delta (IETF RateLimit-Reset is a delta).
const EPOCH_MS_THRESHOLD = 1e12;
const EPOCH_SECONDS_THRESHOLD = 1e9;

function readHeader(headers: HeaderSource, name: string): string | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  try {
    const getter = (headers as { get?: unknown }).get;
    if (typeof getter === 'function') {
      const value: unknown = getter.call(headers, name);
      const picked = pick(value);
      if (picked !== undefined) return picked;
    }
    const wanted = name.toLowerCase();
    for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
      if (key.toLowerCase() === wanted) return pick(value);
    }
  } catch {
    // A hostile or broken headers object must not turn a 429 into a crash.
  }
  return undefined;
}

function pick(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (Array.isArray(value)) return pick(value[0]);
  return undefined;
}

function clamp(ms: number, capMs: number): number | undefined {
  if (!Number.isFinite(ms)) return undefined;
  const cap = Number.isFinite(capMs) && capMs > 0 ? capMs : 0;
  return Math.min(Math.max(0, Math.ceil(ms)), cap);
}

/** `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); a past date means "now". */
function fromRetryAfter(value: string, nowMs: number): number | undefined {
  if (DELTA_SECONDS.test(value)) return Number(value) * 1000;
  // Date.parse accepts bare numbers such as "-5" or "1e3"; only dates with a letter are HTTP-dates.
  if (!/[a-z]/i.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at - nowMs;
}

/** `X-RateLimit-Reset` and friends: epoch seconds (SendGrid, Braze), epoch ms, or delta seconds. */
function fromReset(value: string, nowMs: number): number | undefined {
  if (!DELTA_SECONDS.test(value)) return undefined;
  const n = Number(value);
  if (n >= EPOCH_MS_THRESHOLD) return n - nowMs;
  if (n >= EPOCH_SECONDS_THRESHOLD) return n * 1000 - nowMs;
  return n * 1000;
}

/** IETF draft structured header `RateLimit: limit=10, remaining=0, reset=5` (older drafts: `t=5`). */
function fromStructured(value: string): number | undefined {
  const match = /(?:^|[;,\s])(?:reset|t)\s*=\s*(\d+(?:\.\d+)?)/i.exec(value);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1000;
}

/**
 * Milliseconds to wait, from `Retry-After`, then `X-RateLimit-Reset` / `RateLimit-Reset` /
 * `X-Rate-Limit-Reset`, then a structured `RateLimit` header. Always within [0, capMs]; undefined
 * when no usable header is present. Never throws.
 */
export function parseRetryAfter(headers: HeaderSource, nowMs: number, capMs: number): number | undefined {
  try {
    const now = Number.isFinite(nowMs) ? nowMs : Date.now();
    const retryAfter = readHeader(headers, 'retry-after');
    if (retryAfter !== undefined) {
      const ms = fromRetryAfter(retryAfter, now);
      if (ms !== undefined) return clamp(ms, capMs);
    }
    for (const name of ['x-ratelimit-reset', 'ratelimit-reset', 'x-rate-limit-reset']) {
      const value = readHeader(headers, name);
      const ms = value === undefined ? undefined : fromReset(value, now);
      if (ms !== undefined) return clamp(ms, capMs);
    }
    const structured = readHeader(headers, 'ratelimit');
    const ms = structured === undefined ? undefined : fromStructured(structured);
    return ms === undefined ? undefined : clamp(ms, capMs);
  } catch {
    return undefined;
  }
}
