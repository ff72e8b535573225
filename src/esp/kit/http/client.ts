import axios, { type AxiosInstance, type InternalAxiosRequestConfig } from 'axios';
import type { Logger } from 'pino';

export type { AxiosInstance, AxiosResponse } from 'axios';

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

const DEFAULT_MAX_CONTENT_LENGTH = 5 * 1024 * 1024;

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

/**
 * The one way this project talks HTTP to an ESP. Absolute URLs are refused so a value that ends
 * up in a path can never redirect a request (and its credentials) to another host (CVE-2025-27152,
 * reliability.md §5.6); redirects are not followed for the same reason.
 */
export function createHttpClient(options: HttpClientOptions): AxiosInstance {
  const client = axios.create({
    baseURL: options.baseURL,
    allowAbsoluteUrls: false,
    timeout: options.timeoutMs,
    maxRedirects: 0,
    maxContentLength: options.maxContentLength ?? DEFAULT_MAX_CONTENT_LENGTH,
    maxBodyLength: options.maxContentLength ?? DEFAULT_MAX_CONTENT_LENGTH,
    headers: { Accept: 'application/json', ...options.headers },
    // ETIMEDOUT instead of ECONNABORTED, so a timeout is told apart from an aborted request.
    transitional: { clarifyTimeoutError: true },
  });

  const logger = options.logger;
  if (logger) {
    const started = new WeakMap<InternalAxiosRequestConfig, number>();
    const secrets = options.secrets ?? [];
    client.interceptors.request.use((config) => {
      started.set(config, performance.now());
      return config;
    });
    const describe = (config: InternalAxiosRequestConfig | undefined) => ({
      method: config?.method?.toUpperCase(),
      path: safeUrlForLog(config?.url, secrets),
      durationMs:
        config && started.has(config)
          ? Math.round(performance.now() - (started.get(config) ?? 0))
          : undefined,
    });
    client.interceptors.response.use(
      (response) => {
        logger.debug({ ...describe(response.config), status: response.status }, 'esp http response');
        return response;
      },
      (error: unknown) => {
        const e = error as {
          config?: InternalAxiosRequestConfig;
          response?: { status?: number };
          code?: string;
        };
        logger.debug({ ...describe(e.config), status: e.response?.status, code: e.code }, 'esp http failure');
        return Promise.reject(error);
      },
    );
  }
  return client;
}

/** Basic auth header value; kept here so no adapter hand-rolls base64 of a secret. */
export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}
