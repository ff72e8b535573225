import type { Logger } from 'pino';
import type { EspName } from '../../types.js';
import { classifyHttpError } from './classify.js';
import { EspError } from './errors.js';

/**
 * Short in-job retries only. Long outages belong to the queue's attempts and backoff: retry layers
 * multiply (2 in-job × 8 job attempts is already 24 requests per change), so the in-job budget is
 * capped at MAX_INLINE_RETRIES whatever the configuration says (src/README.md, "Failures, in one vocabulary").
 */
export const MAX_INLINE_RETRIES = 2;

export interface InlineRetryPolicy {
  /** Retries after the first attempt; clamped to 0..MAX_INLINE_RETRIES. */
  retries: number;
  /** Full-jitter backoff: wait = random(0, min(maxDelayMs, baseDelayMs · 2^(retry-1))). */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * Retry 429 inside the job when the wait is short. Right for ESPs whose 429 clears in seconds
   * (Actito's 5-in-flight cap, Ometria's per-second rate); otherwise the queue's rate limiter waits.
   */
  retryRateLimited: boolean;
  /** Longest wait accepted inside the job; a longer server-suggested wait is surfaced to the queue. */
  maxInlineWaitMs: number;
  /** Upper bound on any server-suggested wait (reliability.md §4: 15 min). */
  retryAfterCapMs: number;
}

export interface WithRetryOptions {
  esp: EspName;
  policy: InlineRetryPolicy;
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
  /** Log label of the call, without identities (e.g. `optout-status`). */
  operation?: string;
  /** Statuses the caller expects and handles (e.g. 404 "not on the list"): logged at debug. */
  expectedStatuses?: readonly number[];
  /** Injected for deterministic tests. */
  random?: () => number;
  now?: () => number;
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(typeof reason === 'string' ? reason : 'aborted');
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(asError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Next wait for a failure, or undefined when this failure must not be retried inside the job. */
export function inlineRetryDelay(
  error: EspError,
  retryNumber: number,
  policy: InlineRetryPolicy,
  random: () => number = Math.random,
): number | undefined {
  if (error.kind === 'permanent' || error.kind === 'auth') return undefined;
  if (error.kind === 'rate_limited' && !policy.retryRateLimited) return undefined;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retryNumber - 1));
  const jittered = Math.floor(random() * Math.max(0, ceiling));
  const wait = Math.max(jittered, error.retryAfterMs ?? 0);
  return wait > policy.maxInlineWaitMs ? undefined : wait;
}

/**
 * Runs `fn` with at most two quick retries for transient failures. Whatever `fn` throws comes out
 * as an EspError (or the abort reason when `signal` fires); permanent and auth failures are never
 * retried here. A plain loop rather than p-retry: this wraps every ESP request, nearly all of which
 * succeed at once, and p-retry's per-call set-up showed in the worker's profile.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: WithRetryOptions,
): Promise<T> {
  const { esp, policy, signal, logger } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const retries = Math.min(MAX_INLINE_RETRIES, Math.max(0, Math.floor(policy.retries)));

  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      const result = await fn(attempt);
      // An answer that arrives after the abort is not used: the caller has moved on.
      signal?.throwIfAborted();
      return result;
    } catch (err) {
      if (signal?.aborted) throw asError(signal.reason);
      const espError = EspError.is(err)
        ? err
        : EspError.from(esp, classifyHttpError(err, now(), policy.retryAfterCapMs));
      const delay = attempt > retries ? undefined : inlineRetryDelay(espError, attempt, policy, random);
      const expected = espError.status !== undefined && options.expectedStatuses?.includes(espError.status);
      logger?.[expected ? 'debug' : 'warn'](
        {
          esp,
          operation: options.operation,
          attempt,
          kind: espError.kind,
          status: espError.status,
          retryAfterMs: espError.retryAfterMs,
          nextDelayMs: delay,
        },
        delay === undefined ? 'esp call failed' : 'esp call failed, retrying',
      );
      if (delay === undefined) throw espError;
      await sleep(delay, signal);
    }
  }
}
