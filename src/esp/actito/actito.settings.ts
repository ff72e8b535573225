import { z } from 'zod';
import {
  availability,
  type BulkPathSettings,
  channelMap,
  type CommonEspSettings,
  missingOf,
  parseChannelMap,
  positiveInt,
  type RetryPolicyOf,
  secret,
  url,
} from '../kit/settings-kit.js';

/**
 * Actito's settings (esp-contracts.md §3): its environment variables (each `.describe()`
 * text is its README documentation) and the settings its adapter, read-back and queue use.
 * config/esps.ts composes every ESP's settings.
 */

// §3 Actito
export const actitoEnvSchema = z.object({
  // INFERENCE per esp-contracts.md §3.1: host is licence/region specific (api.actito.com in docs, api3.actito.com in clients).
  ACTITO_BASE_URL: url.default('https://api3.actito.com').describe('Actito API host (licence specific).'),
  ACTITO_API_KEY: secret
    .optional()
    .describe('API key exchanged at `/auth/token` for a bearer token (secret).'),
  ACTITO_ENTITY: z
    .string()
    .min(1)
    .optional()
    .describe('Actito entity that holds the profile table (required to enable Actito).'),
  ACTITO_TABLE: z.string().min(1).optional().describe('Profile table name (required to enable Actito).'),
  // NOT FOUND per esp-contracts.md §3.3: V5 profile paths; default is the V4 path known from public clients [CODE].
  ACTITO_PROFILE_PATH: z
    .string()
    .min(1)
    .default('/v4/entity/{entity}/table/{table}/profile')
    .describe('Profile upsert path template; V5 paths are not yet published.'),
  // DOC §3.1: token TTL 900 s; clients cache ~840 s [CODE]. The token's own expiresIn is also honoured.
  ACTITO_TOKEN_TTL_MS: positiveInt
    .default(840_000)
    .describe('How long a bearer token is reused (token TTL 15 min; refresh at 14).'),
  ACTITO_UNIQUE_KEY_ATTRIBUTE: z
    .string()
    .min(1)
    .default('emailAddress')
    .describe('Profile attribute holding the email, the upsert key.'),
  ACTITO_MARKETING_CONSENT_CHANNEL: z
    .string()
    .default('email')
    .describe('Canonical channel whose state sets `marketingConsent`; empty = never set it.'),
  ACTITO_SUBSCRIPTIONS: channelMap
    .default('')
    .describe('Canonical channel → subscription name, e.g. `sms:SMS_News`; empty = none.'),
  // NOT FOUND per esp-contracts.md §3.3: tracking-consent attribute name and API field; INFERENCE default `trackingConsent`.
  ACTITO_TRACKING_ATTRIBUTE: z
    .string()
    .default('trackingConsent')
    .describe('Boolean profile attribute for tracking consent; empty = tracking not pushed.'),
  ACTITO_DCI_SOURCE: z
    .string()
    .min(1)
    .default('consent-sync')
    .describe('Fallback `dataCollectionInformation.source` when the listing has none.'),
  // NOT FOUND per esp-contracts.md §3.3: allowed `way` vocabulary; default `api_push` as a public client sends [CODE].
  ACTITO_DCI_WAY: z.string().min(1).default('api_push').describe('`dataCollectionInformation.way`.'),
  // NOT FOUND per esp-contracts.md §3.3: date format; INFERENCE default `yyyy-MM-dd HH:mm:ss` as that client does.
  ACTITO_DCI_DATE_FORMAT: z
    .enum(['actito', 'iso'])
    .default('actito')
    .describe('`dataCollectionInformation.date`: `actito` = `yyyy-MM-dd HH:mm:ss` UTC, `iso` = ISO-8601.'),
  ACTITO_TIMEOUT_MS: positiveInt
    .default(15_000)
    .describe('Per-request timeout (Actito slows down rather than rejecting above 100 calls/min).'),
  ACTITO_CALLS_PER_MINUTE: positiveInt
    .default(100)
    .describe('Calls per minute per licence before Actito throttles.'),
  // DOC §3.2: 5 concurrent requests per licence, excess gets 429 (a per-process cap; the queue limiter spans processes).
  ACTITO_CONCURRENCY: positiveInt
    .max(5)
    .default(5)
    .describe('Concurrent requests per process (licence maximum 5; the 6th gets 429).'),
  ACTITO_MAX_BATCH: positiveInt.default(1).describe('Contacts per push (one profile upsert each).'),
  ACTITO_ATTEMPTS: positiveInt.default(8).describe('Queue attempts per push job.'),
  // DOC Creating_or_Updating_Profiles_in_Bulk (cdn.actito.be): `POST /entity/{e}/table/{t}/import` takes a ZIP of one
  // UTF-8 CSV with format, charset, mode and headerKeyColumn; the V4 prefix and passing those as query parameters
  // are INFERENCE (the doc shows them only as a screenshot), so the path is a setting.
  ACTITO_IMPORT_PATH: z
    .string()
    .min(1)
    .default('/v4/entity/{entity}/table/{table}/import')
    .describe('Bulk profile import path template (bulk mode); `/{importId}` appended reads its status.'),
  // DOC §3.2: DATA V4 bulk calls, at most 12 per table per day (then 429).
  ACTITO_BULK_IMPORTS_PER_DAY: z.coerce
    .number()
    .int()
    .min(0)
    .max(12)
    .default(12)
    .describe('Bulk imports a day into the profile table (Actito allows 12); 0 = never use bulk imports.'),
  // INFERENCE: the 100 MB zip limit (§3.2) holds several hundred thousand profiles; a smaller file lands sooner and
  // holds back fewer contacts whose opt-out must wait for it. 12 a day × 100,000 = 1.2 million contacts a day.
  ACTITO_BULK_MAX_CONTACTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(500_000)
    .default(100_000)
    .describe('Most contacts one Actito bulk import carries.'),
  ACTITO_BULK_MODE_AFTER_S: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Overrides `BULK_MODE_AFTER_S` for Actito.'),
});

export type ActitoEnv = z.infer<typeof actitoEnvSchema>;

export interface ActitoSettings extends CommonEspSettings {
  esp: 'actito';
  credentials: { apiKey: string };
  entity: string;
  table: string;
  profilePath: string;
  tokenTtlMs: number;
  uniqueKeyAttribute: string;
  marketingConsentChannel: string;
  subscriptions: Record<string, string>;
  trackingAttribute: string;
  dataCollection: { source: string; way: string; dateFormat: 'actito' | 'iso' };
  importPath: string;
  bulk: BulkPathSettings & { importsPerDay: number };
}

/** Actito's settings, from its validated variables. */
export function buildActitoSettings(env: ActitoEnv, retry: RetryPolicyOf): ActitoSettings {
  return {
    esp: 'actito',
    ...availability(missingOf(env, ['ACTITO_API_KEY', 'ACTITO_ENTITY', 'ACTITO_TABLE'])),
    baseUrl: env.ACTITO_BASE_URL,
    timeoutMs: env.ACTITO_TIMEOUT_MS,
    rateLimit: { max: env.ACTITO_CALLS_PER_MINUTE, durationMs: 60_000 },
    concurrency: env.ACTITO_CONCURRENCY,
    maxBatch: env.ACTITO_MAX_BATCH,
    attempts: env.ACTITO_ATTEMPTS,
    // The 5-in-flight 429 clears as soon as another request finishes (§3.2).
    retry: retry(true),
    credentials: { apiKey: env.ACTITO_API_KEY ?? '' },
    entity: env.ACTITO_ENTITY ?? '',
    table: env.ACTITO_TABLE ?? '',
    profilePath: env.ACTITO_PROFILE_PATH,
    tokenTtlMs: env.ACTITO_TOKEN_TTL_MS,
    uniqueKeyAttribute: env.ACTITO_UNIQUE_KEY_ATTRIBUTE,
    marketingConsentChannel: env.ACTITO_MARKETING_CONSENT_CHANNEL.trim(),
    subscriptions: parseChannelMap(env.ACTITO_SUBSCRIPTIONS),
    trackingAttribute: env.ACTITO_TRACKING_ATTRIBUTE.trim(),
    dataCollection: {
      source: env.ACTITO_DCI_SOURCE,
      way: env.ACTITO_DCI_WAY,
      dateFormat: env.ACTITO_DCI_DATE_FORMAT,
    },
    importPath: env.ACTITO_IMPORT_PATH,
    bulk: {
      importsPerDay: env.ACTITO_BULK_IMPORTS_PER_DAY,
      maxContacts: env.ACTITO_BULK_MAX_CONTACTS,
      ...(env.ACTITO_BULK_MODE_AFTER_S !== undefined ? { afterSeconds: env.ACTITO_BULK_MODE_AFTER_S } : {}),
    },
  };
}
