/**
 * The request log: every ESP request with time, method, path, query, headers (credentials masked), body and the
 * response status. Bounded (oldest entries dropped first) so long demo runs keep memory flat.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isRecord } from './reply.js';
import type { LoggedRequest } from './types.js';

/** Header names whose value is a credential (lower-case). */
const CREDENTIAL_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-xng-authtoken',
  'dy-api-key',
  'x-ometria-auth',
]);

/** Body fields whose value looks like a secret (matched case-insensitively on the field name). */
const SECRET_FIELD = /pass(word|phrase)?|secret|api[-_]?key|token|authcode/i;

export function maskHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    out[name] = CREDENTIAL_HEADERS.has(name) ? maskCredential(value) : value;
  }
  return out;
}

/** Keep an auth scheme (`Basic`, `Bearer`) visible, hide the secret. */
export function maskCredential(value: string): string {
  const scheme = /^(Basic|Bearer)\s+/i.exec(value);
  return scheme ? `${scheme[1]} ***` : '***';
}

export function maskBody(value: unknown, depth = 0): unknown {
  if (depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => maskBody(v, depth + 1));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      SECRET_FIELD.test(k) && (typeof v === 'string' || typeof v === 'number')
        ? '***'
        : maskBody(v, depth + 1);
  }
  return out;
}

const MAX_LOGGED_BODY_CHARS = 64 * 1024;

/** Best-effort structured view of a body for the log. */
export function describeBody(raw: Buffer, contentType: string): unknown {
  if (raw.length === 0) return null;
  const textBody = raw.toString('utf8');
  if (contentType.includes('json') || /^\s*[[{]/.test(textBody)) {
    try {
      return maskBody(JSON.parse(textBody));
    } catch {
      // fall through: log malformed JSON as text
    }
  }
  if (contentType.includes('x-www-form-urlencoded')) {
    const obj: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(textBody)) obj[k] = v;
    return maskBody(obj);
  }
  return textBody.length > MAX_LOGGED_BODY_CHARS ? `${textBody.slice(0, MAX_LOGGED_BODY_CHARS)}…` : textBody;
}

export class RequestLog {
  private entries: LoggedRequest[] = [];
  private seq = 0;

  constructor(private readonly maxEntries: number) {}

  start(entry: Omit<LoggedRequest, 'seq' | 'status' | 'outcome' | 'fault' | 'durationMs'>): LoggedRequest {
    const full: LoggedRequest = {
      seq: ++this.seq,
      ...entry,
      status: null,
      outcome: 'pending',
      fault: false,
      durationMs: null,
    };
    this.entries.push(full);
    if (this.entries.length > this.maxEntries) this.entries.splice(0, this.entries.length - this.maxEntries);
    return full;
  }

  /** Copies of the entries with seq > since, oldest first. */
  list(since = 0): LoggedRequest[] {
    return this.entries.filter((e) => e.seq > since).map((e) => ({ ...e }));
  }

  clear(): void {
    this.entries = [];
  }
}
