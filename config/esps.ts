import { z } from 'zod';
import {
  type ActitoSettings,
  actitoEnvSchema,
  buildActitoSettings,
} from '../src/esp/actito/actito.settings.js';
import {
  buildCrossEngageSettings,
  type CrossEngageSettings,
  crossEngageEnvSchema,
} from '../src/esp/crossengage/crossengage.settings.js';
import {
  buildDynamicYieldSettings,
  type DynamicYieldSettings,
  dynamicYieldEnvSchema,
} from '../src/esp/dynamic-yield/dynamic-yield.settings.js';
import type { InlineRetryPolicy } from '../src/esp/kit/http/with-retry.js';
import { positiveInt } from '../src/esp/kit/settings-kit.js';
import {
  buildOmetriaSettings,
  type OmetriaSettings,
  ometriaEnvSchema,
} from '../src/esp/ometria/ometria.settings.js';
import {
  buildOptimizelyCampaignSettings,
  type OptimizelyCampaignSettings,
  optimizelyCampaignEnvSchema,
} from '../src/esp/optimizely-campaign/optimizely-campaign.settings.js';
import type { EspName } from '../src/esp/types.js';

/**
 * Per-ESP settings. Secrets come from the environment; every value esp-contracts.md marks NOT FOUND
 * or INFERENCE is a variable here, its documented default named in the comment beside it. When a
 * vendor confirms a value, update esp-contracts.md and the comment together.
 *
 * Each ESP's variables and settings are in its folder (src/esp/<esp>/<esp>.settings.ts); this file
 * holds the in-job retry policy they share and composes them, in the README's order.
 */

export type { ActitoSettings } from '../src/esp/actito/actito.settings.js';
export type { CrossEngageSettings } from '../src/esp/crossengage/crossengage.settings.js';
export type { DynamicYieldSettings } from '../src/esp/dynamic-yield/dynamic-yield.settings.js';
export { type BulkPathSettings, parseChannelMap, type RateLimit } from '../src/esp/kit/settings-kit.js';
export type { OmetriaSettings } from '../src/esp/ometria/ometria.settings.js';
export type { OptimizelyCampaignSettings } from '../src/esp/optimizely-campaign/optimizely-campaign.settings.js';

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

export const espEnvSchema = z.object({
  ...sharedRetryEnvSchema.shape,
  ...optimizelyCampaignEnvSchema.shape,
  ...crossEngageEnvSchema.shape,
  ...actitoEnvSchema.shape,
  ...dynamicYieldEnvSchema.shape,
  ...ometriaEnvSchema.shape,
});

export type EspEnv = z.infer<typeof espEnvSchema>;

export type EspSettings =
  | OptimizelyCampaignSettings
  | CrossEngageSettings
  | ActitoSettings
  | DynamicYieldSettings
  | OmetriaSettings;

export type EspSettingsByName = {
  [K in EspName]: Extract<EspSettings, { esp: K }>;
};

function withoutEmptyValues(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') out[key] = value;
  }
  return out;
}

/** Validates the ESP variables (throws a ZodError listing every bad one) and builds each ESP's settings. */
export function buildEspSettings(rawEnv: Readonly<Record<string, string | undefined>>): EspSettingsByName {
  const env = espEnvSchema.parse(withoutEmptyValues(rawEnv));
  const retry = (retryRateLimited: boolean): InlineRetryPolicy => ({
    retries: env.ESP_INLINE_RETRIES,
    baseDelayMs: env.ESP_RETRY_BASE_MS,
    maxDelayMs: env.ESP_RETRY_MAX_MS,
    retryRateLimited,
    maxInlineWaitMs: env.ESP_MAX_INLINE_WAIT_MS,
    retryAfterCapMs: env.ESP_RETRY_AFTER_CAP_MS,
  });
  const settings: EspSettingsByName = {
    'optimizely-campaign': buildOptimizelyCampaignSettings(env, retry),
    crossengage: buildCrossEngageSettings(env, retry),
    actito: buildActitoSettings(env, retry),
    'dynamic-yield': buildDynamicYieldSettings(env, retry),
    ometria: buildOmetriaSettings(env, retry),
  };
  return Object.freeze(settings);
}
