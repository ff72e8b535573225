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
 * CrossEngage's settings (esp-contracts.md §2): its environment variables (each `.describe()`
 * text is its README documentation) and the settings its adapter, read-back and queue use.
 * config/esps.ts composes every ESP's settings.
 */

// §2 CrossEngage
export const crossEngageEnvSchema = z.object({
  CROSSENGAGE_BASE_URL: url.default('https://api.crossengage.io').describe('CrossEngage API host.'),
  CROSSENGAGE_API_KEY: secret.optional().describe('Master API key sent as `X-XNG-AuthToken` (secret).'),
  // DOC §2: opt-out and events are v1. NOT FOUND: behaviour without the header (§8); always send it.
  CROSSENGAGE_API_VERSION: z
    .string()
    .regex(/^\d+$/)
    .default('1')
    .describe('`X-XNG-ApiVersion`; opt-out and events are v1 only.'),
  // DOC §2.1 channelType MAIL, SMS, PUSH_NOTIFICATION…; INFERENCE §2.1: send only the seven documented values.
  CROSSENGAGE_CHANNEL_TYPES: channelMap
    .default('email:MAIL,sms:SMS,push:PUSH_NOTIFICATION')
    .describe('Canonical channel → `channelType` / `channel.type`.'),
  // DOC seeds/001 "(Re)Opt In": the "Opt In" event sets the opt-out status back to false (esp-contracts.md §2.2, corrected).
  CROSSENGAGE_OPT_IN_EVENT: z
    .string()
    .min(1)
    .default('Opt In')
    .describe('System event name that re-opts-in (the only way to re-opt-in a lead).'),
  CROSSENGAGE_OPT_OUT_EVENT: z
    .string()
    .min(1)
    .default('Opt Out')
    .describe('System event name used to opt out leads.'),
  // INFERENCE: 404 = unknown externalId (§2.1); the person may exist as a lead keyed by email (§2.2), and an opt-out must not be lost.
  CROSSENGAGE_LEAD_FALLBACK_ON_404: booleanFlag
    .default(true)
    .describe(
      'With CROSSENGAGE_USER_WRITE=optout-status: opt out by email (lead event) when the externalId is unknown (404).',
    ),
  CROSSENGAGE_EVENTS_PER_REQUEST: positiveInt
    .max(50)
    .default(50)
    .describe('Events per `POST /events` request (documented maximum 50).'),
  CROSSENGAGE_TIMEOUT_MS: positiveInt.default(10_000).describe('Per-request timeout.'),
  // NOT FOUND per esp-contracts.md §2.4 (no rate limits, no 429 documented); INFERENCE default 10 rps.
  CROSSENGAGE_RPS: positiveInt.default(10).describe('Requests per second (no published limit).'),
  CROSSENGAGE_CONCURRENCY: positiveInt.optional().describe(concurrencyForBudgetText('CROSSENGAGE_RPS')),
  // DOC §2.2 / v1 blueprint: `POST /events` names one person per request, so no request spans contacts.
  // INFERENCE: the events path (202, async) is the default; the PUT is synchronous and reports an unknown externalId (404).
  CROSSENGAGE_USER_WRITE: z
    .enum(['events', 'optout-status'])
    .default('events')
    .describe(
      'How full users are written: `events` = one `POST /events` per contact (all channels; 202, no per-user result), `optout-status` = one synchronous `PUT optout-status` per channel (404 = unknown user).',
    ),
  // DOC §2.2: ≤ 50 events per request, one person each; a batch only groups contacts into one push() call
  // (one request per contact, `concurrency` at a time); it does not lower the request count.
  CROSSENGAGE_MAX_BATCH: positiveInt
    .max(1_000)
    .default(50)
    .describe(
      'Contacts per push() call; CrossEngage has no multi-person consent request, so each contact is still one request.',
    ),
  CROSSENGAGE_ATTEMPTS: positiveInt.default(8).describe('Queue attempts per push job.'),
});

export type CrossEngageEnv = z.infer<typeof crossEngageEnvSchema>;

export interface CrossEngageSettings extends CommonEspSettings {
  esp: 'crossengage';
  credentials: { apiKey: string };
  apiVersion: string;
  channelTypes: Record<string, string>;
  optOutEventName: string;
  optInEventName: string;
  userWrite: 'events' | 'optout-status';
  leadFallbackOn404: boolean;
  eventsPerRequest: number;
}

/** CrossEngage's settings, from its validated variables. */
export function buildCrossEngageSettings(env: CrossEngageEnv, retry: RetryPolicyOf): CrossEngageSettings {
  return {
    esp: 'crossengage',
    ...availability(missingOf(env, ['CROSSENGAGE_API_KEY'])),
    baseUrl: env.CROSSENGAGE_BASE_URL,
    timeoutMs: env.CROSSENGAGE_TIMEOUT_MS,
    rateLimit: perSecond(env.CROSSENGAGE_RPS),
    concurrency: env.CROSSENGAGE_CONCURRENCY ?? concurrencyForBudget(env.CROSSENGAGE_RPS),
    maxBatch: env.CROSSENGAGE_MAX_BATCH,
    attempts: env.CROSSENGAGE_ATTEMPTS,
    // No 429 in any CrossEngage contract (§2.4); if one appears, the queue limiter waits.
    retry: retry(false),
    credentials: { apiKey: env.CROSSENGAGE_API_KEY ?? '' },
    apiVersion: env.CROSSENGAGE_API_VERSION,
    channelTypes: parseChannelMap(env.CROSSENGAGE_CHANNEL_TYPES),
    optOutEventName: env.CROSSENGAGE_OPT_OUT_EVENT,
    optInEventName: env.CROSSENGAGE_OPT_IN_EVENT,
    userWrite: env.CROSSENGAGE_USER_WRITE,
    leadFallbackOn404: env.CROSSENGAGE_LEAD_FALLBACK_ON_404,
    eventsPerRequest: env.CROSSENGAGE_EVENTS_PER_REQUEST,
  };
}
