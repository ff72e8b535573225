import { z } from 'zod';
import type { InlineRetryPolicy } from './http/with-retry.js';

/**
 * What every ESP's settings (src/esp/<esp>/<esp>.settings.ts) share: the zod pieces their variables
 * are made of, the settings every adapter and its queue read, and the helpers that build them.
 * config/esps.ts composes the ESPs' schemas and builders.
 */

export const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
export const positiveInt = z.coerce.number().int().positive();
export const secret = z.string().min(1);
export const url = z.string().url();
export const channelMap = z
  .string()
  .regex(
    /^\s*$|^[a-z][a-z0-9_]*:[A-Za-z0-9_ -]+(,[a-z][a-z0-9_]*:[A-Za-z0-9_ -]+)*$/,
    'channel:NAME pairs, comma-separated',
  );

/** An ESP's documented bulk path (bulk mode, src/delivery/bulk.ts). */
export interface BulkPathSettings {
  /** Most contacts one bulk carries. */
  maxContacts: number;
  /** This ESP's own BULK_MODE_AFTER_S, when set. */
  afterSeconds?: number;
}

export interface RateLimit {
  max: number;
  durationMs: number;
}

/** Settings every adapter and its queue share. `credentials` hold secrets: never log them. */
export interface CommonEspSettings {
  /** false when the ESP's credentials are absent; no adapter is built then. */
  enabled: boolean;
  /** Why the ESP is disabled (names the missing variables), for the start-up log. */
  disabledReason?: string;
  baseUrl: string;
  timeoutMs: number;
  /** Request budget, used by the queue limiter and by the adapter's own pacer. */
  rateLimit: RateLimit;
  /** Requests in flight per process. */
  concurrency: number;
  /**
   * Share of `rateLimit` (and one concurrency slot) that lanes 2–3 may never take, kept for
   * lane 1, a person's own opt-outs (config/index.ts sets it from <ESP>_FIRST_LANE_RESERVE).
   */
  firstLaneReservePercent?: number;
  /** Contacts per push() call; 1 = no batching. */
  maxBatch: number;
  /** Queue attempts per push job. */
  attempts: number;
  retry: InlineRetryPolicy;
  /** Its documented bulk path, when it has one (bulk mode). */
  bulk?: BulkPathSettings;
  /** This ESP's own reconciliation schedule (cron, UTC), when it has one; else RECONCILE_CRON. */
  reconcileCron?: string;
}

/** The settings of any ESP, tagged with its name (src/esp/kit/esp-module.ts builds them). */
export interface EspSettings extends CommonEspSettings {
  esp: string;
}

/** The shared in-job retry policy (ESP_INLINE_RETRIES…), with or without retrying a 429 inside the job. */
export type RetryPolicyOf = (retryRateLimited: boolean) => InlineRetryPolicy;

/** Parses `email:MAIL,sms:SMS` into a channel map. */
export function parseChannelMap(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of value.split(',')) {
    const [channel, espChannel] = pair.split(':').map((s) => s.trim());
    if (channel && espChannel) out[channel] = espChannel;
  }
  return out;
}

export const perSecond = (max: number): RateLimit => ({ max, durationMs: 1_000 });

/** About how long one request takes at an ESP over the internet, for sizing concurrency against a budget. */
const ASSUMED_REQUEST_SECONDS = 0.4;
const BUDGET_CONCURRENCY = { min: 4, max: 32 } as const;

/**
 * Requests in flight per process when an ESP with no documented concurrency limit is not given
 * one: enough to spend `rps` at ASSUMED_REQUEST_SECONDS a request, at least 4, at most 32. A
 * fixed 4 held a budget raised to 100 rps to about 10 rps against a real ESP (4 ÷ 0.4 s), and
 * made a queue of a per-person ESP on loopback at 200 requests/s.
 */
export function concurrencyForBudget(rps: number): number {
  return Math.min(BUDGET_CONCURRENCY.max, Math.max(BUDGET_CONCURRENCY.min, Math.ceil(rps * ASSUMED_REQUEST_SECONDS)));
}

/** The description of such a concurrency variable, naming the budget variable it follows. */
export const concurrencyForBudgetText = (rpsVariable: string) =>
  `Concurrent requests per process; default: enough to spend ${rpsVariable} at ${ASSUMED_REQUEST_SECONDS * 1_000} ms a request (${rpsVariable} × ${ASSUMED_REQUEST_SECONDS}), at least ${BUDGET_CONCURRENCY.min}, at most ${BUDGET_CONCURRENCY.max}.`;

export function availability(missing: string[]): Pick<CommonEspSettings, 'enabled' | 'disabledReason'> {
  return missing.length === 0
    ? { enabled: true }
    : { enabled: false, disabledReason: `missing ${missing.join(', ')}` };
}

export function missingOf<E extends object>(env: E, keys: (keyof E & string)[]): string[] {
  return keys.filter((k) => env[k] === undefined);
}
