import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';

export interface HttpClientOptions {
  baseURL: string;
  /** Whole-request timeout (connect + response), per attempt. */
  timeoutMs: number;
  headers?: Record<string, string>;
  logger?: Logger;
  /**
   * Values that must never reach a log line even when they sit in a URL path, such as the
   * Optimizely form-service authorization code (esp-contracts.md §1.1).
   */
  secrets?: readonly string[];
  /** Response size cap; consent endpoints answer with a few hundred bytes. */
  maxContentLength?: number;
}

export interface HttpRequestOptions {
  /**
   * Query parameters, form-encoded: a URLSearchParams as is (repeated keys), or an object whose
   * dates go as ISO strings and whose `undefined` and `null` values are left out.
   */
  params?: URLSearchParams | Record<string, unknown>;
  /** Added to the client's headers; an `undefined` value is left out. */
  headers?: Record<string, string | undefined>;
  signal?: AbortSignal | undefined;
  /** `text` keeps the body as a string; by default a body that parses as JSON is parsed. */
  responseType?: 'json' | 'text';
}

export interface HttpResponse<T = unknown> {
  status: number;
  /** Lower-cased names, as Node gives them. */
  headers: IncomingHttpHeaders;
  data: T;
}

/**
 * A request body: JSON for plain values, form encoding for URLSearchParams, a string or bytes as
 * they are (bytes for file uploads such as Actito's zipped bulk imports).
 */
export type HttpBody = string | Uint8Array | URLSearchParams | object;

export interface HttpClient {
  get<T = unknown>(path: string, options?: HttpRequestOptions): Promise<HttpResponse<T>>;
  delete<T = unknown>(path: string, options?: HttpRequestOptions): Promise<HttpResponse<T>>;
  post<T = unknown>(path: string, body?: HttpBody, options?: HttpRequestOptions): Promise<HttpResponse<T>>;
  put<T = unknown>(path: string, body?: HttpBody, options?: HttpRequestOptions): Promise<HttpResponse<T>>;
  /** The URL a path resolves to: always on the configured host. */
  urlOf(path: string, params?: HttpRequestOptions['params']): string;
}

/**
 * A response outside 2xx. Carries what classify.ts reads (`response.status`, `response.headers`)
 * and nothing of the request, so neither credentials nor bodies travel with it.
 */
export class HttpStatusError extends Error {
  readonly status: number;
  readonly response: HttpResponse;
  constructor(method: string, path: string, response: HttpResponse) {
    super(`${method} ${path} answered HTTP ${response.status}`);
    this.name = 'HttpStatusError';
    this.status = response.status;
    this.response = response;
  }
}

/** A transport failure with the code classify.ts knows (ETIMEDOUT, ERR_BAD_RESPONSE, …). */
export class HttpTransportError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'HttpTransportError';
  }
}

const DEFAULT_MAX_CONTENT_LENGTH = 5 * 1024 * 1024;
const FORM_TYPE = 'application/x-www-form-urlencoded;charset=utf-8';
const JSON_TYPE = 'application/json';

/**
 * A path fit for logs: no query string (Optimizely and DY carry emails there), secrets masked,
 * and any segment that looks like an email masked too.
 */
export function safeUrlForLog(url: string | undefined, secrets: readonly string[] = []): string {
  if (!url) return '';
  let path = url.split(/[?#]/, 1)[0] ?? '';
  for (const secret of secrets) {
    if (secret.length >= 4) {
      path = path.split(secret).join('***');
      path = path.split(encodeURIComponent(secret)).join('***');
    }
  }
  return path
    .split('/')
    .map((segment) => (/@|%40/i.test(segment) ? '[redacted]' : segment))
    .join('/');
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  for (const key in headers) if (key.toLowerCase() === name) return true;
  return false;
}

function encodeBody(body: HttpBody | undefined, headers: Record<string, string>): string | Uint8Array | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) {
    if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = 'application/octet-stream';
    return body;
  }
  if (body instanceof URLSearchParams) {
    if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = FORM_TYPE;
    return body.toString();
  }
  if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = JSON_TYPE;
  return JSON.stringify(body);
}

function queryOf(params: Record<string, unknown>): URLSearchParams {
  const query = new URLSearchParams();
  for (const key in params) {
    const value = params[key];
    if (value !== undefined && value !== null) query.append(key, value instanceof Date ? value.toISOString() : String(value));
  }
  return query;
}

function decodeBody(text: string, responseType: HttpRequestOptions['responseType']): unknown {
  if (responseType === 'text' || text === '') return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Some ESP answers are plain text (Optimizely's form service); they are returned as such.
    return text;
  }
}

/** Where a client's requests go and the limits each one keeps; fixed when the client is made. */
interface Endpoint {
  transport: typeof http | typeof https;
  protocol: string;
  hostname: string;
  port: string;
  maxLength: number;
  logger: HttpClientOptions['logger'];
  secrets: readonly string[];
  timeoutMs: number;
}

/**
 * One request's life: the whole-request timeout, the caller's abort, the response size cap, a
 * debug line without query or secrets, and any non-2xx answer as an HttpStatusError.
 */
function send<T>(
  endpoint: Endpoint,
  method: string,
  target: string,
  headers: Record<string, string>,
  payload: string | Uint8Array | undefined,
  opts: HttpRequestOptions,
): Promise<HttpResponse<T>> {
  const started = performance.now();
  const signal = opts.signal;

  return new Promise<HttpResponse<T>>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let settled = false;
    const finish = (error: unknown, response?: HttpResponse<T>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (endpoint.logger?.isLevelEnabled('debug')) {
        const e = error as { code?: string } | undefined;
        endpoint.logger.debug(
          {
            method,
            path: safeUrlForLog(target, endpoint.secrets),
            durationMs: Math.round(performance.now() - started),
            status: response?.status ?? (error instanceof HttpStatusError ? error.status : undefined),
            ...(error && !(error instanceof HttpStatusError) ? { code: e?.code } : {}),
          },
          error ? 'esp http failure' : 'esp http response',
        );
      }
      if (error) reject(error);
      else resolve(response!);
    };
    const req = endpoint.transport.request(
      { protocol: endpoint.protocol, hostname: endpoint.hostname, port: endpoint.port, path: target, method, headers },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          length += chunk.length;
          if (length > endpoint.maxLength) {
            finish(new HttpTransportError(`response larger than ${endpoint.maxLength} bytes`, 'ERR_BAD_RESPONSE'));
            res.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => finish(err));
        res.on('end', () => {
          const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          const response: HttpResponse<T> = { status, headers: res.headers, data: decodeBody(text, opts.responseType) as T };
          if (status >= 200 && status < 300) finish(undefined, response);
          else finish(new HttpStatusError(method, safeUrlForLog(target, endpoint.secrets), response));
        });
      },
    );
    const onAbort = () => {
      req.destroy();
      finish(signal!.reason);
    };
    const timer = setTimeout(
      () => req.destroy(new HttpTransportError(`timeout of ${endpoint.timeoutMs} ms exceeded`, 'ETIMEDOUT')),
      endpoint.timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => finish(err));
    req.end(payload);
  });
}

/**
 * The one way this project talks HTTP to an ESP, on Node's own http module with keep-alive (its
 * global agents). It replaced axios, whose per-request config merging, header objects and
 * interceptors cost twice the CPU of the request itself (measured in the worker profile).
 * Paths are always appended to the base URL, so a value that ends up in a path can never send a
 * request (and its credentials) to another host (CVE-2025-27152, reliability.md §5.6); redirects
 * are never followed for the same reason: a 3xx is an error like any other non-2xx answer.
 */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const base = new URL(options.baseURL);
  const transport = base.protocol === 'https:' ? https : http;
  const basePath = base.pathname.replace(/\/+$/, '');
  const origin = `${base.protocol}//${base.host}`;
  // URL keeps the brackets of an IPv6 literal; the socket API wants the bare address.
  const hostname = base.hostname.replace(/^\[(.*)\]$/, '$1');
  const defaults: Record<string, string> = { Accept: JSON_TYPE, ...options.headers };
  const maxLength = options.maxContentLength ?? DEFAULT_MAX_CONTENT_LENGTH;
  const logger = options.logger;
  const secrets = options.secrets ?? [];

  const pathOf = (path: string, params: HttpRequestOptions['params']) => {
    let full = basePath + (path.startsWith('/') ? path : `/${path}`);
    if (params) {
      const encoded = (params instanceof URLSearchParams ? params : queryOf(params)).toString();
      if (encoded) full += (full.includes('?') ? '&' : '?') + encoded;
    }
    return full;
  };

  const endpoint: Endpoint = { transport, protocol: base.protocol, hostname, port: base.port, maxLength, logger, secrets, timeoutMs: options.timeoutMs };

  function request<T>(method: string, path: string, body: HttpBody | undefined, opts: HttpRequestOptions = {}): Promise<HttpResponse<T>> {
    const headers: Record<string, string> = { ...defaults };
    if (opts.headers) for (const key in opts.headers) if (opts.headers[key] !== undefined) headers[key] = opts.headers[key];
    const payload = encodeBody(body, headers);
    if (payload !== undefined) headers['Content-Length'] = String(Buffer.byteLength(payload));
    return send<T>(endpoint, method, pathOf(path, opts.params), headers, payload, opts);
  }

  return {
    get: (path, opts) => request('GET', path, undefined, opts),
    delete: (path, opts) => request('DELETE', path, undefined, opts),
    post: (path, body, opts) => request('POST', path, body, opts),
    put: (path, body, opts) => request('PUT', path, body, opts),
    urlOf: (path, params) => origin + pathOf(path, params),
  };
}

/** Basic auth header value; kept here so no adapter hand-rolls base64 of a secret. */
export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}
