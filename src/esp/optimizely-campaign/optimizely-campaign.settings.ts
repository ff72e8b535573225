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
 * Optimizely Campaign's settings (esp-contracts.md §1): its environment variables (each `.describe()`
 * text is its README documentation) and the settings its adapter, read-back and queue use.
 * config/esps.ts composes every ESP's settings.
 */

// §1 Optimizely Campaign
export const optimizelyCampaignEnvSchema = z.object({
  OPTIMIZELY_BASE_URL: url
    .default('https://api.campaign.episerver.net')
    .describe('Optimizely Campaign host; `/http/…` and `/rest/…` are appended.'),
  OPTIMIZELY_FORM_AUTH_CODE: secret
    .optional()
    .describe('HTTP API form-service authorization code of the recipient list (secret).'),
  OPTIMIZELY_CLIENT_ID: z
    .string()
    .min(1)
    .optional()
    .describe('REST API client id (the `{clientId}` path segment).'),
  OPTIMIZELY_API_USER: z.string().min(1).optional().describe('REST API user (Basic auth).'),
  OPTIMIZELY_API_PASSWORD: secret.optional().describe('REST API password (Basic auth, secret).'),
  // INFERENCE per esp-contracts.md §1.2: REST for bulk unsubscribes; HTTP API (§1.1) when only a form auth code exists.
  OPTIMIZELY_WRITE_API: z
    .enum(['rest', 'http'])
    .optional()
    .describe('API used for pushes; default `rest` when REST credentials are set, else `http`.'),
  OPTIMIZELY_OPTOUT_ACTION: z
    .enum(['unsubscribe', 'blacklist'])
    .default('unsubscribe')
    .describe(
      '`blacklist` also blocks transactional mail; use only where the blocklist is the consent store.',
    ),
  OPTIMIZELY_RECIPIENT_ID: z
    .enum(['email', 'externalId'])
    .default('email')
    .describe('Identity used as the recipient id (`bmRecipientId` / `recipientIds`).'),
  OPTIMIZELY_RECIPIENT_LIST_ID: z
    .string()
    .min(1)
    .optional()
    .describe('Recipient list for list-based unsubscribes; unset = the client-wide unsubscribe list.'),
  // DOC esp-contracts.md §1.2 mediaType EMAIL|FAX|SMS|LETTER|PUSH|PRINT; channel mapping per product.md §1.
  OPTIMIZELY_MEDIA_TYPES: channelMap
    .default('email:EMAIL,sms:SMS,push:PUSH')
    .describe('Canonical channel → REST `mediaType`; the HTTP API handles email only.'),
  OPTIMIZELY_OPTIN_PROCESS_ID: z
    .string()
    .min(1)
    .optional()
    .describe('HTTP API `bmOptInId` sent with `subscribe` (starts a double opt-in); unset = none.'),
  // INFERENCE per esp-contracts.md §1.1: `system_error` ("a general error occurred") is retryable with backoff. Default true.
  OPTIMIZELY_SYSTEM_ERROR_RETRY: booleanFlag
    .default(true)
    .describe('Treat the HTTP API token `system_error` as transient (retry) rather than a dead letter.'),
  OPTIMIZELY_BLACKLIST_REASON: z
    .string()
    .min(1)
    .default('consent-sync')
    .describe('`bmReason` / `reason` of blocklist entries (vendor default `http-api`).'),
  // DOC §1.1: GET or POST both work; POST form-encoded as the public PHP client does [CODE].
  // NOT FOUND in vendor docs: response status and content type; default per esp-contracts.md §1.1: 200 text/plain, parse token by prefix.
  OPTIMIZELY_HTTP_METHOD: z
    .enum(['POST', 'GET'])
    .default('POST')
    .describe('HTTP API method; POST form-encoded keeps emails out of URLs.'),
  // NOT FOUND: a limit for `DELETE /unsubscribes?recipientIds=`; INFERENCE: 100 ids keeps the URL short (the POST limit of §1.2 is 5000).
  // INFERENCE per esp-contracts.md §1.2: unsubscribes default to mediaType GLOBAL (HTTP API, mail links), which
  // suppresses email too; an email re-opt-in therefore also removes the GLOBAL entry. Default true.
  OPTIMIZELY_REOPTIN_CLEARS_GLOBAL: booleanFlag
    .default(true)
    .describe(
      "An email re-opt-in over REST also removes the recipient's GLOBAL unsubscribe (where link and HTTP API unsubscribes land).",
    ),
  OPTIMIZELY_RESUBSCRIBE_CHUNK: positiveInt
    .max(5_000)
    .default(100)
    .describe('Recipient ids per REST re-subscribe DELETE (ids travel in the query string).'),
  OPTIMIZELY_TIMEOUT_MS: positiveInt.default(10_000).describe('Per-request timeout.'),
  // NOT FOUND per esp-contracts.md §1.1/§1.2 (no published limits); INFERENCE default 10 rps with client-side pacing.
  OPTIMIZELY_RPS: positiveInt.default(10).describe('Requests per second (no published limit).'),
  OPTIMIZELY_CONCURRENCY: positiveInt.optional().describe(concurrencyForBudgetText('OPTIMIZELY_RPS')),
  // DOC §1.2: `POST /unsubscribes` takes ≤ 5000 ids; INFERENCE: 500 contacts per push already make one bulk request per
  // media type carry hundreds of ids, while a failed request holds back fewer contacts and a push stays well under the timeout.
  OPTIMIZELY_MAX_BATCH: positiveInt
    .max(5_000)
    .optional()
    .describe(
      'Contacts per push; default 500 with the REST API (bulk limit 5000 ids per request), 1 with the HTTP API.',
    ),
  OPTIMIZELY_ATTEMPTS: positiveInt.default(8).describe('Queue attempts per push job.'),
});

export type OptimizelyCampaignEnv = z.infer<typeof optimizelyCampaignEnvSchema>;

export interface OptimizelyCampaignSettings extends CommonEspSettings {
  esp: 'optimizely-campaign';
  credentials: {
    formAuthCode?: string;
    rest?: { clientId: string; apiUser: string; apiPassword: string };
  };
  writeApi: 'rest' | 'http';
  optOutAction: 'unsubscribe' | 'blacklist';
  recipientId: 'email' | 'externalId';
  recipientListId?: string;
  mediaTypes: Record<string, string>;
  optInProcessId?: string;
  blacklistReason: string;
  systemErrorRetry: boolean;
  httpMethod: 'POST' | 'GET';
  resubscribeChunk: number;
  reoptInClearsGlobal: boolean;
}

/** Optimizely Campaign's settings, from its validated variables. */
export function buildOptimizelyCampaignSettings(
  env: OptimizelyCampaignEnv,
  retry: RetryPolicyOf,
): OptimizelyCampaignSettings {
  const rest =
    env.OPTIMIZELY_CLIENT_ID && env.OPTIMIZELY_API_USER && env.OPTIMIZELY_API_PASSWORD
      ? {
          clientId: env.OPTIMIZELY_CLIENT_ID,
          apiUser: env.OPTIMIZELY_API_USER,
          apiPassword: env.OPTIMIZELY_API_PASSWORD,
        }
      : undefined;
  const writeApi = env.OPTIMIZELY_WRITE_API ?? (rest ? 'rest' : 'http');
  const optimizelyMissing =
    writeApi === 'rest'
      ? missingOf(env, ['OPTIMIZELY_CLIENT_ID', 'OPTIMIZELY_API_USER', 'OPTIMIZELY_API_PASSWORD'])
      : missingOf(env, ['OPTIMIZELY_FORM_AUTH_CODE']);
  return {
    esp: 'optimizely-campaign',
    ...availability(optimizelyMissing),
    baseUrl: env.OPTIMIZELY_BASE_URL,
    timeoutMs: env.OPTIMIZELY_TIMEOUT_MS,
    rateLimit: perSecond(env.OPTIMIZELY_RPS),
    concurrency: env.OPTIMIZELY_CONCURRENCY ?? concurrencyForBudget(env.OPTIMIZELY_RPS),
    // REST bulk unsubscribe takes ≤5000 ids (esp-contracts.md §1.2), 500 by default; the HTTP API is one recipient per call.
    maxBatch: env.OPTIMIZELY_MAX_BATCH ?? (writeApi === 'rest' ? 500 : 1),
    attempts: env.OPTIMIZELY_ATTEMPTS,
    // 429 appears only on recipient reads (§1.2), so a push 429 is left to the queue limiter.
    retry: retry(false),
    credentials: {
      ...(env.OPTIMIZELY_FORM_AUTH_CODE ? { formAuthCode: env.OPTIMIZELY_FORM_AUTH_CODE } : {}),
      ...(rest ? { rest } : {}),
    },
    writeApi,
    optOutAction: env.OPTIMIZELY_OPTOUT_ACTION,
    recipientId: env.OPTIMIZELY_RECIPIENT_ID,
    ...(env.OPTIMIZELY_RECIPIENT_LIST_ID ? { recipientListId: env.OPTIMIZELY_RECIPIENT_LIST_ID } : {}),
    mediaTypes: parseChannelMap(env.OPTIMIZELY_MEDIA_TYPES),
    ...(env.OPTIMIZELY_OPTIN_PROCESS_ID ? { optInProcessId: env.OPTIMIZELY_OPTIN_PROCESS_ID } : {}),
    blacklistReason: env.OPTIMIZELY_BLACKLIST_REASON,
    systemErrorRetry: env.OPTIMIZELY_SYSTEM_ERROR_RETRY,
    httpMethod: env.OPTIMIZELY_HTTP_METHOD,
    resubscribeChunk: env.OPTIMIZELY_RESUBSCRIBE_CHUNK,
    reoptInClearsGlobal: env.OPTIMIZELY_REOPTIN_CLEARS_GLOBAL,
  };
}
