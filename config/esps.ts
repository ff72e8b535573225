import { z } from 'zod';
import { BUILT_IN_ESPS, type EspModule } from '../src/esp/registry.js';
import type { InlineRetryPolicy } from '../src/esp/kit/http/with-retry.js';
import { type EspSettings, positiveInt } from '../src/esp/kit/settings-kit.js';
import { ESP_NAME_PATTERN } from '../src/esp/types.js';

/**
 * Per-ESP settings. Secrets come from the environment; every value esp-contracts.md marks NOT FOUND
 * or INFERENCE is a variable here, its documented default named in the comment beside it. When a
 * vendor confirms a value, update esp-contracts.md and the comment together.
 *
 * Each ESP's variables and settings are in its folder (src/esp/<esp>/<esp>.settings.ts, listed by
 * its module); this file holds the in-job retry policy they share and composes the configured
 * modules' variables and settings, in the registry's order.
 */

export {
  type BulkPathSettings,
  type EspSettings,
  parseChannelMap,
  type RateLimit,
} from '../src/esp/kit/settings-kit.js';

const sharedRetryEnvSchema = z.object({
  // Shared in-job retry policy (src/README.md "Failures, in one vocabulary"; reliability.md §4).
  // INFERENCE per reliability.md §4: ≤2 quick in-job retries; inner retries multiply with queue attempts.
  ESP_INLINE_RETRIES: z.coerce
    .number()
    .int()
    .min(0)
    .max(2)
    .default(2)
    .describe('Quick in-job retries of a failed ESP call (0–2); longer outages use the queue attempts.'),
  ESP_RETRY_BASE_MS: positiveInt
    .default(250)
    .describe('Base of the full-jitter backoff between in-job retries.'),
  ESP_RETRY_MAX_MS: positiveInt.default(2_000).describe('Cap of one in-job backoff wait.'),
  ESP_MAX_INLINE_WAIT_MS: positiveInt
    .default(5_000)
    .describe('Longest server-suggested wait honoured inside a job; longer waits go back to the queue.'),
  // INFERENCE per reliability.md §4: cap Retry-After at 15 min. None of the five ESPs is documented to send it (esp-contracts.md §6).
  ESP_RETRY_AFTER_CAP_MS: positiveInt
    .default(900_000)
    .describe('Cap on any Retry-After / rate-limit-reset wait (15 min).'),
});

/** Percent of an ESP's request budget (and one concurrency slot) that only lane 1 may use. */
function reservePercent(label: string) {
  return z.coerce
    .number()
    .int()
    .min(0)
    .max(90)
    .default(20)
    .describe(
      `Percent of ${label}'s request budget kept for lane 1 (a person's own opt-outs): imports and other lanes never use it, so an unsubscribe never waits for budget. 0 = no reserve (lanes still go in order).`,
    );
}

export const cronPattern = (example: string) =>
  z.string().regex(/^(\S+\s+){4,5}\S+$/, `a cron pattern of 5 or 6 fields, e.g. "${example}"`);

/** One module's variables: its own, its lane-1 reserve and its reconciliation schedule, if it has one. */
function moduleEnvShape(esp: EspModule): z.ZodRawShape {
  return {
    ...esp.envSchema.shape,
    [esp.laneReserveVariable]: reservePercent(esp.label),
    ...(esp.reconcileCron
      ? {
          [esp.reconcileCron.variable]: cronPattern(esp.reconcileCron.defaultPattern)
            .default(esp.reconcileCron.defaultPattern)
            .describe(esp.reconcileCron.description),
        }
      : {}),
  };
}

/**
 * The ESP variables of `esps`. Two modules that share a name or a variable are refused: one
 * would silently configure the other.
 */
export function espEnvSchemaFor(esps: readonly EspModule[]) {
  const shape: Record<string, z.core.$ZodType> = { ...sharedRetryEnvSchema.shape };
  const owner = new Map<string, string>(Object.keys(shape).map((v) => [v, 'the shared retry policy']));
  const names = new Set<string>();
  for (const esp of esps) {
    if (!ESP_NAME_PATTERN.test(esp.name)) {
      throw new Error(`ESP module name "${esp.name}" must be lower-case letters, digits and dashes (it names queues, metric labels and URLs)`);
    }
    if (names.has(esp.name)) throw new Error(`two ESP modules are named "${esp.name}"`);
    names.add(esp.name);
    for (const [variable, schema] of Object.entries(moduleEnvShape(esp))) {
      const taken = owner.get(variable);
      if (taken !== undefined) throw new Error(`ESP ${esp.name} declares ${variable}, which ${taken} already declares`);
      owner.set(variable, `ESP ${esp.name}`);
      shape[variable] = schema;
    }
  }
  return z.object(shape);
}

/** The built-in ESPs' variables (README tables, the compose file check). */
export const espEnvSchema = espEnvSchemaFor(BUILT_IN_ESPS);

/** The built-in ESPs' settings, each with its own type. */
export type EspSettingsByName = {
  [M in (typeof BUILT_IN_ESPS)[number] as M['name']]: ReturnType<M['buildSettings']>;
};

function withoutEmptyValues(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') out[key] = value;
  }
  return out;
}

/**
 * Builds each ESP's settings from variables already validated by espEnvSchemaFor(esps): its
 * own, plus the lane-1 reserve and reconciliation schedule every module may have.
 */
export function espSettingsFrom(env: Readonly<Record<string, unknown>>, esps: readonly EspModule[]): Readonly<Record<string, EspSettings>> {
  const shared = env as z.infer<typeof sharedRetryEnvSchema>;
  const retry = (retryRateLimited: boolean): InlineRetryPolicy => ({
    retries: shared.ESP_INLINE_RETRIES,
    baseDelayMs: shared.ESP_RETRY_BASE_MS,
    maxDelayMs: shared.ESP_RETRY_MAX_MS,
    retryRateLimited,
    maxInlineWaitMs: shared.ESP_MAX_INLINE_WAIT_MS,
    retryAfterCapMs: shared.ESP_RETRY_AFTER_CAP_MS,
  });
  const settings: Record<string, EspSettings> = {};
  for (const esp of esps) {
    settings[esp.name] = {
      ...esp.buildSettings({ ...env }, retry),
      firstLaneReservePercent: env[esp.laneReserveVariable] as number,
      ...(esp.reconcileCron ? { reconcileCron: env[esp.reconcileCron.variable] as string } : {}),
    };
  }
  return Object.freeze(settings);
}

/** Validates the ESP variables (throws a ZodError listing every bad one) and builds each ESP's settings. */
export function buildEspSettings(rawEnv: Readonly<Record<string, string | undefined>>): EspSettingsByName;
export function buildEspSettings(
  rawEnv: Readonly<Record<string, string | undefined>>,
  esps: readonly EspModule[],
): Readonly<Record<string, EspSettings>>;
export function buildEspSettings(
  rawEnv: Readonly<Record<string, string | undefined>>,
  esps: readonly EspModule[] = BUILT_IN_ESPS,
): Readonly<Record<string, EspSettings>> {
  return espSettingsFrom(espEnvSchemaFor(esps).parse(withoutEmptyValues(rawEnv)), esps);
}
