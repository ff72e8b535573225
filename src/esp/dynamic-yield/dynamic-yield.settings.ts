import { z } from 'zod';
import {
  concurrencyForBudget,
  concurrencyForBudgetText,
  availability,
  booleanFlag,
  channelMap,
  type CommonEspSettings,
  missingOf,
  parseChannelMap,
  perSecond,
  positiveInt,
  type RetryPolicyOf,
  secret,
  url,
} from '../kit/settings-kit.js';

/**
 * Dynamic Yield's settings (esp-contracts.md §4): its environment variables (each `.describe()`
 * text is its README documentation) and the settings its adapter, read-back and queue use.
 * config/esps.ts composes every ESP's settings.
 */

// §4 Dynamic Yield
export const dynamicYieldEnvSchema = z.object({
  DY_API_KEY: secret.optional().describe('Server-side API key sent as `DY-API-Key` (secret).'),
  // DOC §4.1 hosts dy-api.com / dy-api.eu (+ direct.); INFERENCE §4.4 notes: host selectable.
  DY_REGION: z.enum(['us', 'eu']).default('us').describe('Data centre: `us` = dy-api.com, `eu` = dy-api.eu.'),
  DY_DIRECT: booleanFlag.default(false).describe('Use the `direct.` host (client-side keys only).'),
  DY_BASE_URL: url.optional().describe('Overrides the host chosen by DY_REGION / DY_DIRECT (simulators).'),
  // DOC §4.3: new implementations should use the Reconnect endpoints; §4.2 events remain supported (legacy).
  DY_API: z
    .enum(['reconnect', 'event'])
    .default('reconnect')
    .describe(
      'Email/SMS via the Reconnect opt-in/opt-out endpoints or the legacy `message-opt*-v1` events; push always uses events.',
    ),
  // NOT FOUND per esp-contracts.md §4.3: the `channel` enum; INFERENCE default email / sms.
  // NOT FOUND per esp-contracts.md §4.3: the `identifier` schema; INFERENCE default `typed` = {"type":"email","value":…}.
  DY_RECONNECT_IDENTIFIER: z
    .enum(['typed', 'keyed'])
    .default('typed')
    .describe('Reconnect `identifier` shape: `typed` = `{type, value}`, `keyed` = `{email}` / `{phone}`.'),
  DY_RECONNECT_CHANNELS: channelMap
    .default('email:email,sms:sms')
    .describe('Canonical channel → Reconnect `{channel}` path value.'),
  DY_EMAIL_CUID_TYPE: z
    .enum(['email', 'external'])
    .default('email')
    .describe('Event API: identify email contacts by address or by externalId.'),
  DY_PUSH_CHANNEL_TYPE: z
    .enum(['APP_PUSH', 'WEB_PUSH'])
    .default('APP_PUSH')
    .describe('Event API `channelType` of push opt-ins.'),
  DY_TIMEOUT_MS: positiveInt.default(10_000).describe('Per-request timeout.'),
  // NOT FOUND per esp-contracts.md §4.2 (rate limits); INFERENCE default 10 rps.
  DY_RPS: positiveInt.default(10).describe('Requests per second (no published limit).'),
  DY_CONCURRENCY: positiveInt.optional().describe(concurrencyForBudgetText('DY_RPS')),
  DY_MAX_BATCH: positiveInt.default(1).describe('Contacts per push (one request per contact and channel).'),
  DY_ATTEMPTS: positiveInt.default(8).describe('Queue attempts per push job.'),
});

export type DynamicYieldEnv = z.infer<typeof dynamicYieldEnvSchema>;

export interface DynamicYieldSettings extends CommonEspSettings {
  esp: 'dynamic-yield';
  credentials: { apiKey: string };
  api: 'reconnect' | 'event';
  reconnectChannels: Record<string, string>;
  reconnectIdentifier: 'typed' | 'keyed';
  emailCuidType: 'email' | 'external';
  pushChannelType: 'APP_PUSH' | 'WEB_PUSH';
}

/** Dynamic Yield's settings, from its validated variables. */
export function buildDynamicYieldSettings(env: DynamicYieldEnv, retry: RetryPolicyOf): DynamicYieldSettings {
  const dyHost = `https://${env.DY_DIRECT ? 'direct.' : ''}dy-api.${env.DY_REGION === 'eu' ? 'eu' : 'com'}`;
  return {
    esp: 'dynamic-yield',
    ...availability(missingOf(env, ['DY_API_KEY'])),
    baseUrl: env.DY_BASE_URL ?? dyHost,
    timeoutMs: env.DY_TIMEOUT_MS,
    rateLimit: perSecond(env.DY_RPS),
    concurrency: env.DY_CONCURRENCY ?? concurrencyForBudget(env.DY_RPS),
    maxBatch: env.DY_MAX_BATCH,
    attempts: env.DY_ATTEMPTS,
    retry: retry(false),
    credentials: { apiKey: env.DY_API_KEY ?? '' },
    api: env.DY_API,
    reconnectChannels: parseChannelMap(env.DY_RECONNECT_CHANNELS),
    reconnectIdentifier: env.DY_RECONNECT_IDENTIFIER,
    emailCuidType: env.DY_EMAIL_CUID_TYPE,
    pushChannelType: env.DY_PUSH_CHANNEL_TYPE,
  };
}
