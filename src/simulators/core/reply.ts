/** Reply builders, the error type handlers throw, and the parsed request object. */
import type { IncomingMessage } from 'node:http';
import type { SimReply, SimRequest } from './types.js';

export const JSON_TYPE = 'application/json; charset=utf-8';
export const TEXT_TYPE = 'text/plain; charset=utf-8';

export function json(status: number, value: unknown, headers: Record<string, string> = {}): SimReply {
  return { status, headers: { 'content-type': JSON_TYPE, ...headers }, body: JSON.stringify(value) };
}

export function text(
  status: number,
  body: string,
  contentType = TEXT_TYPE,
  headers: Record<string, string> = {},
): SimReply {
  return { status, headers: { 'content-type': contentType, ...headers }, body };
}

/**
 * 501 naming a request the simulator does not simulate, and for a known path the methods it does
 * (`Allow`): never a 404 or 405 an adapter could take for the vendor's own answer.
 */
export function notSimulated(simulator: string | undefined, method: string, path: string, allow: readonly string[] = []): SimReply {
  return json(
    501,
    {
      error: 'not simulated',
      message: `the ${simulator ?? 'this'} simulator does not simulate ${method} ${path}`,
      ...(allow.length > 0 ? { simulated: allow.map((m) => `${m} ${path}`) } : {}),
    },
    allow.length > 0 ? { allow: allow.join(', ') } : {},
  );
}

export function empty(status: number, headers: Record<string, string> = {}): SimReply {
  return { status, headers };
}

/** Thrown by handlers and parsers; the server sends `reply` as is. */
export class SimHttpError extends Error {
  readonly reply: SimReply;
  constructor(reply: SimReply, message?: string) {
    super(message ?? `simulated HTTP ${reply.status}`);
    this.name = 'SimHttpError';
    this.reply = reply;
  }
}

/** Throw a JSON error reply. */
export function fail(status: number, body: unknown, headers: Record<string, string> = {}): never {
  throw new SimHttpError(json(status, body, headers));
}

/** A reply for a fault step body: string → text/plain, other → JSON, absent → empty. */
export function faultReply(status: number, body: unknown, headers: Record<string, string>): SimReply {
  if (body === undefined || body === null) return empty(status, headers);
  if (typeof body === 'string') return text(status, body, TEXT_TYPE, headers);
  return json(status, body, headers);
}

export function createSimRequest(
  req: IncomingMessage,
  url: URL,
  rawBody: Buffer,
  params: Record<string, string> = {},
): SimRequest {
  let parsedJson: { value: unknown } | undefined;
  const bodyText = (): string => rawBody.toString('utf8');
  const contentType = (): string =>
    (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
    rawBody,
    remoteAddress: req.socket.remoteAddress ?? '',
    params,
    param(name: string): string {
      return params[name] ?? '';
    },
    header(name: string): string | undefined {
      const value = req.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    text: bodyText,
    contentType,
    json(): unknown {
      if (parsedJson) return parsedJson.value;
      const raw = bodyText();
      if (raw.trim() === '') {
        parsedJson = { value: undefined };
        return undefined;
      }
      try {
        parsedJson = { value: JSON.parse(raw) as unknown };
      } catch {
        fail(400, { error: 'invalid JSON body' });
      }
      return parsedJson.value;
    },
    form(): URLSearchParams {
      if (contentType() === 'application/json') {
        const value = this.json();
        const out = new URLSearchParams();
        if (value && typeof value === 'object' && !Array.isArray(value)) {
          for (const [k, v] of Object.entries(value)) {
            if (v === undefined || v === null) continue;
            out.append(k, Array.isArray(v) ? v.join(',') : String(v));
          }
        }
        return out;
      }
      return new URLSearchParams(bodyText());
    },
  };
}

/** Plain-object view of a query (repeated names become arrays). */
export function queryObject(query: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of query) {
    const prev = out[key];
    if (prev === undefined) out[key] = value;
    else out[key] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
