import type { Logger } from 'pino';
import type { Lane } from '../../domain/index.js';
import type { EspSettings } from './settings-kit.js';
import { createSemaphore, type Pacer, type PacerFactory, processPacers, type Semaphore } from './concurrency.js';
import { laneOf } from './lane-scope.js';
import { createHttpClient, type HttpClient } from './http/client.js';
import { EspError } from './http/errors.js';
import { withRetry } from './http/with-retry.js';
import { deadLetter } from './outcome.js';
import type { EspName, PushOutcome } from '../types.js';

/** What every adapter needs to make a request: one client, one pacer, one concurrency cap. */
export interface AdapterKit {
  esp: EspName;
  http: HttpClient;
  logger: Logger;
  /**
   * Runs one ESP request: waits for a concurrency slot and the rate window, then retries it at most
   * twice for transient failures. Rejects with an EspError. `expectedStatuses` are answers the
   * caller gives a meaning of its own (e.g. 404 "not on the list"): logged at debug, not warn.
   */
  call<T>(operation: string, signal: AbortSignal | undefined, fn: () => Promise<T>, expectedStatuses?: readonly number[]): Promise<T>;
}

export function createAdapterKit(
  settings: EspSettings,
  logger: Logger,
  options: { headers?: Record<string, string>; secrets?: readonly string[]; pacers?: PacerFactory } = {},
): AdapterKit {
  const esp = settings.esp;
  const log = logger.child({ esp });
  const http = createHttpClient({
    baseURL: settings.baseUrl,
    timeoutMs: settings.timeoutMs,
    logger: log,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.secrets ? { secrets: options.secrets } : {}),
  });
  // Lane 1 keeps a share of the rate window and, where the ESP allows several requests at once,
  // one slot: lower lanes can never take all of either (see concurrency.ts).
  const reservedCalls = Math.ceil((settings.rateLimit.max * (settings.firstLaneReservePercent ?? 0)) / 100);
  const semaphore: Semaphore = createSemaphore(settings.concurrency, { reserve: settings.concurrency > 1 && reservedCalls > 0 ? 1 : 0 });
  // The window is kept 2% longer than the ESP's: the ESP counts arrivals, we count starts, and a
  // request that travels a little slower than the next would otherwise put two in its window.
  const windowMs = settings.rateLimit.durationMs + Math.max(20, Math.ceil(settings.rateLimit.durationMs * 0.02));
  const pacer: Pacer = (options.pacers ?? processPacers)(esp, settings.rateLimit.max, windowMs, { reserve: reservedCalls });
  return {
    esp,
    http,
    logger: log,
    call(operation, signal, fn, expectedStatuses) {
      const lane = laneOf(signal);
      return withRetry(
        () =>
          semaphore.run(async () => {
            await takeBudget(pacer, esp, signal, lane);
            return fn();
          }, lane),
        { esp, policy: settings.retry, signal, logger: log, operation, ...(expectedStatuses ? { expectedStatuses } : {}) },
      );
    },
  };
}

/**
 * The ESP's budget is shared in Redis: a Redis that is down or restarting says nothing about the
 * ESP or the contact, so its failure is a transient one (the push is retried, or swept again once
 * Redis is back). Left unclassified it would read as a permanent failure and dead-letter every
 * contact of the push, an opt-out among them.
 */
async function takeBudget(pacer: Pacer, esp: EspName, signal: AbortSignal | undefined, lane: Lane): Promise<void> {
  try {
    await pacer.take(signal, lane);
  } catch (err) {
    if (signal?.aborted || EspError.is(err)) throw err;
    throw new EspError(esp, 'retryable', `${esp}: the request budget could not be read (${err instanceof Error ? err.message : String(err)})`);
  }
}

/**
 * A permanent failure of one contact's request becomes that contact's dead letter; every other
 * kind (transient, rate-limited, auth) concerns the whole ESP and aborts the push.
 */
export function deadLetterOrThrow(err: unknown): PushOutcome {
  if (EspError.is(err) && err.kind === 'permanent') return deadLetter(err.message);
  throw err;
}

/** The HTTP status of a failed call, for the few statuses an ESP gives a meaning of its own. */
export function statusOf(err: unknown): number | undefined {
  return EspError.is(err) ? err.status : undefined;
}
