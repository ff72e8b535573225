/** Options of the Actito simulator; limits and NOT FOUND / INFERENCE values of esp-contracts.md §3 with defaults. */
import type { CanonicalChannel } from '../../../simulators/core/types.js';

/**
 * INFERENCE (subscription names are per account, §3.3): the simulator's subscriptions, which dev and
 * the tests map channels to (ACTITO_SUBSCRIPTIONS), so SMS consent has somewhere to go there as in a
 * configured account. Push is left out: Actito's push consent is the device's opt-in to the
 * Notificare push channel (developers.actito.com push-implementation), not a profile subscription.
 */
export const ACTITO_SIM_SUBSCRIPTIONS: Readonly<Partial<Record<CanonicalChannel, string>>> = Object.freeze({
  email: 'Newsletter',
  sms: 'SMS_News',
});

export type ActitoWebhookEvent = 'CREATE' | 'UPDATE' | 'UPDATED_SUBSCRIPTION';

export interface ActitoSeedProfile {
  /** Attribute name → value; must contain the unique key attribute. */
  attributes: Record<string, unknown>;
  /** Subscription name → subscribed. */
  subscriptions?: Record<string, boolean>;
}

export interface ActitoOptions {
  /** DOC §3.1: bearer token TTL, 900 s ("expiresIn":"900s"). Lower it in tests to see 401 on expiry. */
  tokenTtlSeconds?: number;
  /** DOC §3.2: 5 concurrent requests per licence; the next one in flight gets 429. */
  maxConcurrentRequests?: number;
  /** DOC §3.2: 100 calls per minute; beyond that calls are throttled (slower), not rejected. */
  callsPerMinute?: number;
  /** INFERENCE (§3.2 Simulator notes): added latency per call above `callsPerMinute`. Default 600 ms (= 60 s / 100). */
  throttleDelayMs?: number;
  /** INFERENCE (§3.3 upsert "on unique key"): the profile table's unique key attribute. Default `emailAddress`. */
  uniqueKeyAttribute?: string;
  /** NOT FOUND (§3.3): the tracking-consent attribute name. Default `trackingConsent` (Boolean). */
  trackingConsentAttribute?: string;
  /** INFERENCE: subscription standing for a canonical channel in `/__sim/state`. Default ACTITO_SIM_SUBSCRIPTIONS. */
  channelSubscriptions?: Partial<Record<CanonicalChannel, string>>;
  /** INFERENCE: subscriptions defined on the table; others → 400. Default null = any name accepted. */
  subscriptionNames?: string[] | null;
  /** NOT FOUND (§3.3): `dataCollectionInformation.date` format. Default `yyyy-MM-dd HH:mm:ss` (INFERENCE); null = any. */
  dataCollectionDatePattern?: RegExp | null;
  /** NOT FOUND (§3.3): allowed `dataCollectionInformation.way` values. Default null = any non-empty string. */
  allowedWays?: string[] | null;
  /** DOC §3.2: 406 for an `Accept` header that excludes JSON. Default true. */
  enforceAccept?: boolean;
  /** DOC §3.4: profile-table webhooks fire for every change, API-made ones included. Default true. */
  webhookOnApiChanges?: boolean;
  /** Which profile-table events are POSTed to the webhook target. Default `['UPDATED_SUBSCRIPTION', 'UPDATE']`. */
  webhookEvents?: ActitoWebhookEvent[];
  /** Profiles present at start and after every reset. */
  profiles?: ActitoSeedProfile[];
  /** DOC §3.2: DATA V4 bulk calls, at most 12 per table per day; the 13th gets 429. */
  importsPerTablePerDay?: number;
  /** DOC §3.2: a bulk zip above 100 MB gets 400. */
  maxImportBytes?: number;
  /** Scripted: how long after it was accepted a bulk import lands (status FINISHED). Default 2000 ms. */
  importDelayMs?: number;
}

export interface ResolvedActitoOptions extends Required<Omit<ActitoOptions, 'channelSubscriptions'>> {
  channelSubscriptions: Partial<Record<CanonicalChannel, string>>;
}

export function resolveActitoOptions(opts: ActitoOptions): ResolvedActitoOptions {
  return {
    tokenTtlSeconds: opts.tokenTtlSeconds ?? 900,
    maxConcurrentRequests: opts.maxConcurrentRequests ?? 5,
    callsPerMinute: opts.callsPerMinute ?? 100,
    throttleDelayMs: opts.throttleDelayMs ?? 600,
    uniqueKeyAttribute: opts.uniqueKeyAttribute ?? 'emailAddress',
    trackingConsentAttribute: opts.trackingConsentAttribute ?? 'trackingConsent',
    channelSubscriptions: opts.channelSubscriptions ?? { ...ACTITO_SIM_SUBSCRIPTIONS },
    subscriptionNames: opts.subscriptionNames ?? null,
    dataCollectionDatePattern:
      opts.dataCollectionDatePattern === undefined
        ? /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/
        : opts.dataCollectionDatePattern,
    allowedWays: opts.allowedWays ?? null,
    enforceAccept: opts.enforceAccept ?? true,
    webhookOnApiChanges: opts.webhookOnApiChanges ?? true,
    webhookEvents: opts.webhookEvents ?? ['UPDATED_SUBSCRIPTION', 'UPDATE'],
    profiles: opts.profiles ?? [],
    importsPerTablePerDay: opts.importsPerTablePerDay ?? 12,
    maxImportBytes: opts.maxImportBytes ?? 100 * 1024 * 1024,
    importDelayMs: opts.importDelayMs ?? 2_000,
  };
}

/** The credentials the simulator accepts (defaults: its module, ../actito.module.ts). */
export interface ActitoSimCredentials {
  /** Raw API key for `GET /auth/token` (`Authorization: <key>`, no scheme) (§3.1). */
  apiKey: string;
  /** Licence entity and profile table of the V4 paths (§3.3). */
  entity: string;
  profileTable: string;
}
