import type { JobsOptions } from 'bullmq';
import type { Config } from '../../config/index.js';
import type { EspName } from '../esp/types.js';
import { settingsOf } from '../esp/registry.js';

/**
 * The one place that decides how often, and after how long, a failed job is tried again.
 * Retries happen at two levels that are designed together, never stacked into retries of
 * retries (the README's "Retries" table lists both):
 * - in the request (esp/kit/http/with-retry.ts): at most MAX_INLINE_RETRIES quick retries of a
 *   transient ESP failure, so a blip costs seconds, not a job attempt;
 * - in the queue (here): attempts with jittered exponential backoff for anything longer. A
 *   rate-limit answer (429) does not use an attempt: the queue waits instead (runtime.ts).
 * A permanent failure (JobPermanentFailure) is never retried; it fails the job at once, visibly.
 */

const KEEP = {
  removeOnComplete: { age: 3_600, count: 1_000 },
  removeOnFail: { age: 14 * 24 * 3_600 },
} as const;

/** Applying stored events: a conflict or an unreachable MongoDB clears within seconds. */
export function applyRetry(): JobsOptions {
  return { attempts: 12, backoff: { type: 'exponential', delay: 500, jitter: 0.5 }, ...KEEP };
}

/** Pushes to one ESP: its own attempts (<ESP>_ATTEMPTS) and ESP_BACKOFF_MS. */
export function pushRetry(config: Config, esp: EspName): JobsOptions {
  return {
    attempts: settingsOf(config.esps, esp).attempts,
    backoff: { type: 'exponential', delay: config.espBackoffMs, jitter: 0.5 },
    ...KEEP,
  };
}

/** A reconciliation page re-reads the ESP on retry; ESP read APIs recover in minutes. */
export function reconcileRetry(): JobsOptions {
  return { attempts: 8, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 }, removeOnComplete: { count: 1_000 }, removeOnFail: { count: 1_000 } };
}

/** Sweeps and heartbeats run again on their next schedule: retrying them would only pile up. */
export function onceOnly(): JobsOptions {
  return { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } };
}
