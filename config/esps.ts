import { z } from 'zod';
import type { InlineRetryPolicy } from '../src/esp/kit/http/with-retry.js';
import type { EspName } from '../src/esp/types.js';

/**
 * Per-ESP settings. Secrets come from the environment; every value esp-contracts.md marks NOT FOUND
 * or INFERENCE is a variable here, its documented default named in the comment beside it. When a
 * vendor confirms a value, update esp-contracts.md and the comment together.
 */

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const positiveInt = z.coerce.number().int().positive();
const secret = z.string().min(1);
const url = z.string().url();
const channelMap = z
  .string()
  .regex(
    /^\s*$|^[a-z][a-z0-9_]*:[A-Za-z0-9_ -]+(,[a-z][a-z0-9_]*:[A-Za-z0-9_ -]+)*$/,
    'channel:NAME pairs, comma-separated',
  );

export const espEnvSchema = z.object({
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

  // §1 Optimizely Campaign
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
  OPTIMIZELY_CONCURRENCY: positiveInt.default(4).describe('Concurrent requests per process.'),
  // DOC §1.2: `POST /unsubscribes` takes ≤ 5000 ids; INFERENCE: 500 contacts per push already make one bulk request per
  // media type carry hundreds of ids, while a failed request holds back fewer contacts and a push stays well under the timeout.
  OPTIMIZELY_MAX_BATCH: positiveInt
    .max(5_000)
    .optional()
    .describe(
      'Contacts per push; default 500 with the REST API (bulk limit 5000 ids per request), 1 with the HTTP API.',
    ),
  OPTIMIZELY_ATTEMPTS: positiveInt.default(8).describe('Queue attempts per push job.'),

  // §2 CrossEngage
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
  CROSSENGAGE_CONCURRENCY: positiveInt.default(4).describe('Concurrent requests per process.'),
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

  // §3 Actito
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

  // §4 Dynamic Yield
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
  DY_CONCURRENCY: positiveInt.default(4).describe('Concurrent requests per process.'),
  DY_MAX_BATCH: positiveInt.default(1).describe('Contacts per push (one request per contact and channel).'),
  DY_ATTEMPTS: positiveInt.default(8).describe('Queue attempts per push job.'),

  // §5 Ometria
  OMETRIA_BASE_URL: url.default('https://api.ometria.com').describe('Ometria API host; `/v2/…` is appended.'),
  OMETRIA_API_KEY: secret.optional().describe('API key sent as `X-Ometria-Auth` (secret).'),
  OMETRIA_COLLECTION: z
    .string()
    .min(1)
    .default('default')
    .describe('`@collection` of pushed contact records.'),
  OMETRIA_LISTING_ID: z
    .enum(['contactId', 'externalId'])
    .default('contactId')
    .describe('Source of the contact record `id` (must not contain PII).'),
  // DOC §5.1: push 8 rps in the current docs, 4 in the older version; INFERENCE which is newer, so configurable.
  OMETRIA_PUSH_RPS: positiveInt
    .default(8)
    .describe('Push requests per second (current docs 8, older docs 4).'),
  OMETRIA_MAX_BATCH: positiveInt
    .max(100)
    .default(100)
    .describe('Contact records per push request (maximum 100).'),
  // DOC §5.2: `/v2/push/_errors` lists the last 100 errors; they cannot be tied to one record (no record id in them).
  OMETRIA_FETCH_ERRORS: booleanFlag
    .default(true)
    .describe('Read `/v2/push/_errors` to explain rejected records.'),
  // INFERENCE per esp-contracts.md §5.2: the response counts rejections without naming records; pushes merge, so re-sending is safe.
  OMETRIA_ISOLATE_REJECTED: booleanFlag
    .default(true)
    .describe('Re-push records one by one when a batch is partly rejected, to find which.'),
  OMETRIA_TIMEOUT_MS: positiveInt.default(10_000).describe('Per-request timeout.'),
  OMETRIA_CONCURRENCY: positiveInt.default(2).describe('Concurrent requests per process.'),
  OMETRIA_ATTEMPTS: positiveInt.default(8).describe('Queue attempts per push job.'),
});

export type EspEnv = z.infer<typeof espEnvSchema>;

export interface RateLimit {
  max: number;
  durationMs: number;
}

/** An ESP's documented bulk path (bulk mode, services/esp-sync/bulk.ts). */
export interface BulkPathSettings {
  /** Most contacts one bulk carries. */
  maxContacts: number;
  /** This ESP's own BULK_MODE_AFTER_S, when set. */
  afterSeconds?: number;
}

/** Settings every adapter and its queue share. `credentials` hold secrets: never log them. */
interface CommonEspSettings {
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
}

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

export interface DynamicYieldSettings extends CommonEspSettings {
  esp: 'dynamic-yield';
  credentials: { apiKey: string };
  api: 'reconnect' | 'event';
  reconnectChannels: Record<string, string>;
  reconnectIdentifier: 'typed' | 'keyed';
  emailCuidType: 'email' | 'external';
  pushChannelType: 'APP_PUSH' | 'WEB_PUSH';
}

export interface OmetriaSettings extends CommonEspSettings {
  esp: 'ometria';
  credentials: { apiKey: string };
  collection: string;
  listingId: 'contactId' | 'externalId';
  fetchErrors: boolean;
  isolateRejected: boolean;
}

export type EspSettings =
  | OptimizelyCampaignSettings
  | CrossEngageSettings
  | ActitoSettings
  | DynamicYieldSettings
  | OmetriaSettings;

export type EspSettingsByName = {
  [K in EspName]: Extract<EspSettings, { esp: K }>;
};

/** Parses `email:MAIL,sms:SMS` into a channel map. */
export function parseChannelMap(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of value.split(',')) {
    const [channel, espChannel] = pair.split(':').map((s) => s.trim());
    if (channel && espChannel) out[channel] = espChannel;
  }
  return out;
}

function withoutEmptyValues(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') out[key] = value;
  }
  return out;
}

function availability(missing: string[]): Pick<CommonEspSettings, 'enabled' | 'disabledReason'> {
  return missing.length === 0
    ? { enabled: true }
    : { enabled: false, disabledReason: `missing ${missing.join(', ')}` };
}

function missingOf(env: EspEnv, keys: (keyof EspEnv)[]): string[] {
  return keys.filter((k) => env[k] === undefined);
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
  const perSecond = (max: number): RateLimit => ({ max, durationMs: 1_000 });

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

  const dyHost = `https://${env.DY_DIRECT ? 'direct.' : ''}dy-api.${env.DY_REGION === 'eu' ? 'eu' : 'com'}`;

  const settings: EspSettingsByName = {
    'optimizely-campaign': {
      esp: 'optimizely-campaign',
      ...availability(optimizelyMissing),
      baseUrl: env.OPTIMIZELY_BASE_URL,
      timeoutMs: env.OPTIMIZELY_TIMEOUT_MS,
      rateLimit: perSecond(env.OPTIMIZELY_RPS),
      concurrency: env.OPTIMIZELY_CONCURRENCY,
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
    },
    crossengage: {
      esp: 'crossengage',
      ...availability(missingOf(env, ['CROSSENGAGE_API_KEY'])),
      baseUrl: env.CROSSENGAGE_BASE_URL,
      timeoutMs: env.CROSSENGAGE_TIMEOUT_MS,
      rateLimit: perSecond(env.CROSSENGAGE_RPS),
      concurrency: env.CROSSENGAGE_CONCURRENCY,
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
    },
    actito: {
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
    },
    'dynamic-yield': {
      esp: 'dynamic-yield',
      ...availability(missingOf(env, ['DY_API_KEY'])),
      baseUrl: env.DY_BASE_URL ?? dyHost,
      timeoutMs: env.DY_TIMEOUT_MS,
      rateLimit: perSecond(env.DY_RPS),
      concurrency: env.DY_CONCURRENCY,
      maxBatch: env.DY_MAX_BATCH,
      attempts: env.DY_ATTEMPTS,
      retry: retry(false),
      credentials: { apiKey: env.DY_API_KEY ?? '' },
      api: env.DY_API,
      reconnectChannels: parseChannelMap(env.DY_RECONNECT_CHANNELS),
      reconnectIdentifier: env.DY_RECONNECT_IDENTIFIER,
      emailCuidType: env.DY_EMAIL_CUID_TYPE,
      pushChannelType: env.DY_PUSH_CHANNEL_TYPE,
    },
    ometria: {
      esp: 'ometria',
      ...availability(missingOf(env, ['OMETRIA_API_KEY'])),
      baseUrl: env.OMETRIA_BASE_URL,
      timeoutMs: env.OMETRIA_TIMEOUT_MS,
      rateLimit: perSecond(env.OMETRIA_PUSH_RPS),
      concurrency: env.OMETRIA_CONCURRENCY,
      maxBatch: env.OMETRIA_MAX_BATCH,
      attempts: env.OMETRIA_ATTEMPTS,
      // A push 429 means the per-second rate or the queue backlog (§5.1); both clear quickly.
      retry: retry(true),
      credentials: { apiKey: env.OMETRIA_API_KEY ?? '' },
      collection: env.OMETRIA_COLLECTION,
      listingId: env.OMETRIA_LISTING_ID,
      fetchErrors: env.OMETRIA_FETCH_ERRORS,
      isolateRejected: env.OMETRIA_ISOLATE_REJECTED,
    },
  };
  return Object.freeze(settings);
}
