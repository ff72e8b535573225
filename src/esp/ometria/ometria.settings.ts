import { z } from 'zod';
import {
  availability,
  booleanFlag,
  type CommonEspSettings,
  missingOf,
  perSecond,
  positiveInt,
  type RetryPolicyOf,
  secret,
  url,
} from '../kit/settings-kit.js';

/**
 * Ometria's settings (esp-contracts.md §5): its environment variables (each `.describe()`
 * text is its README documentation) and the settings its adapter, read-back and queue use.
 * config/esps.ts composes every ESP's settings.
 */

// §5 Ometria
export const ometriaEnvSchema = z.object({
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

export type OmetriaEnv = z.infer<typeof ometriaEnvSchema>;

export interface OmetriaSettings extends CommonEspSettings {
  esp: 'ometria';
  credentials: { apiKey: string };
  collection: string;
  listingId: 'contactId' | 'externalId';
  fetchErrors: boolean;
  isolateRejected: boolean;
}

/** Ometria's settings, from its validated variables. */
export function buildOmetriaSettings(env: OmetriaEnv, retry: RetryPolicyOf): OmetriaSettings {
  return {
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
  };
}
