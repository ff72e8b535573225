/**
 * Pattern-based scrubbing of personal data and secrets. pino's path redaction only catches
 * values under known keys; an email pasted into an error message or a URL query would still
 * leak, so every log record is also scrubbed by value.
 */

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
/**
 * International numbers of 8–15 digits, optionally grouped; shorter digit runs (counts) pass.
 * A number only counts as one when it stands alone: not joined by a letter, digit, `_`, `-` or
 * `.` to what is around it. Ids are made of exactly such joined runs (a UUID's all-digit groups
 * `4123-8123`, an ObjectId, `demo-1765000000000-3`), so no part of one is ever cut out; a
 * sentence's full stop after a number does not join it. An ISO date is not a phone number.
 */
const PHONE = /(?<![\w.+-])(?!\d{4}-\d\d-\d\d(?![\d]))\+?\d(?:[\s().-]{0,2}\d){7,14}(?![\w-]|\.\w)/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const SECRET_QUERY = /([?&](?:api[_-]?key|token|access_token|auth|authCode|password|secret)=)[^&\s#]+/gi;

export const REDACTED = '[redacted]';

/** Keys whose values are always secret or personal, whatever they hold. */
export const SENSITIVE_KEYS: readonly string[] = [
  'email',
  'emailAddress',
  'email_address',
  'phone',
  'phoneNumber',
  'phone_number',
  'mobile',
  'msisdn',
  'password',
  'token',
  'accessToken',
  'refreshToken',
  'apiKey',
  'api_key',
  'secret',
  'authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'dy-api-key',
  'x-xng-authtoken',
  'x-ometria-auth',
  'pushId',
  'pushID',
  'userAgent',
  'ip',
];

const sensitiveKeySet = new Set(SENSITIVE_KEYS.map((k) => k.toLowerCase()));

export function scrubString(value: string): string {
  return value
    .replace(BEARER, `$1 ${REDACTED}`)
    .replace(SECRET_QUERY, `$1${REDACTED}`)
    .replace(EMAIL, REDACTED)
    .replace(PHONE, REDACTED);
}

/** Deep copy with sensitive keys and PII-looking strings replaced; cycles and depth are bounded. */
export function scrubValue(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8 || seen.has(value)) return '[truncated]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1, seen));
  if (value instanceof Error) {
    return {
      type: value.name,
      message: scrubString(value.message),
      stack: value.stack && scrubString(value.stack),
    };
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = sensitiveKeySet.has(key.toLowerCase()) ? REDACTED : scrubValue(v, depth + 1, seen);
  }
  return out;
}
