/**
 * Options of the Optimizely Campaign simulator. Every NOT FOUND / INFERENCE value of esp-contracts.md §1 is an
 * option; the comment names the documented (or inferred) default and its section.
 */

/** Media types of the REST unsubscribe list; GLOBAL is the documented default (§1.2). */
export const MEDIA_TYPES = ['GLOBAL', 'EMAIL', 'FAX', 'SMS', 'LETTER', 'PUSH', 'PRINT'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];

export function isMediaType(value: string): value is MediaType {
  return (MEDIA_TYPES as readonly string[]).includes(value);
}

/** Per-authorization-code configuration of the HTTP API form service (§1.1 and its Simulator notes). */
export interface OptimizelyAuthCodeConfig {
  /** The recipient list the code is bound to. */
  recipientListId: string;
  /** IP security: only these caller IPs are accepted, others get `wrong_tag` 502. Default: any IP. */
  allowedIps?: string[];
  /** `false` → tracking opt-out operations answer `vetoed`. Default: the client-level `trackingOptOutEnabled`. */
  trackingOptOutEnabled?: boolean;
  /** SSL-only client: plain HTTP gets `wrong_tag` 504 (send `X-Forwarded-Proto: https` to pass). Default false. */
  requireSsl?: boolean;
}

/** A mail-service `{bmMailId}` (the per-email, checksum-protected code) and whom it identifies (§1.1). */
export interface OptimizelyMailIdConfig {
  recipientId: string;
  recipientListId?: string;
  mailingId?: string;
}

export interface OptimizelySeedRecipient {
  recipientId: string;
  /** Default: the credentials' recipientListId. */
  recipientListId?: string;
  address?: string;
  fields?: Record<string, string>;
}

export interface OptimizelyCampaignOptions {
  /** Form-service codes. Default: `{ [credentials.formAuthCode]: { recipientListId: credentials.recipientListId } }`. */
  authCodes?: Record<string, OptimizelyAuthCodeConfig>;
  /** Mail-service codes. Default: none (any mail code → `wrong_tag` 501). */
  mailIds?: Record<string, OptimizelyMailIdConfig>;
  /** Existing recipient lists; a code bound to another list gets `wrong_tag` 505. Default: every list named in codes. */
  recipientLists?: string[];
  /** Tracking opt-out feature of the client (HTTP `vetoed`, REST 406 when false). Default true. */
  trackingOptOutEnabled?: boolean;
  /** NOT FOUND in vendor docs; default per esp-contracts.md §1.1: HTTP API answers 200 with the token in the body. */
  httpApiStatus?: number;
  /** NOT FOUND in vendor docs; default per esp-contracts.md §1.1: text/plain. */
  httpApiContentType?: string;
  /** NOT FOUND (§1.1): `wrong_tag` bare or with its code. Default `with-code` → `wrong_tag: 501` (parse by prefix). */
  wrongTagFormat?: 'bare' | 'with-code';
  /** INFERENCE (§1.1 has no mediaType): media type of HTTP API unsubscribes. Default `GLOBAL` (the client's list). */
  httpUnsubscribeMediaType?: MediaType;
  /**
   * NOT FOUND (§1.1 full subscribe failure list): HTTP `subscribe` without `bmOptInId` for an unsubscribed recipient.
   * Default `reject` → token `unsubscribed` (mirrors REST 409); `resubscribe` removes the unsubscribe; `ignore` answers
   * `ok` and keeps the unsubscribe. With `bmOptInId` a (double) opt-in process always starts.
   */
  subscribeWhenUnsubscribed?: 'reject' | 'resubscribe' | 'ignore';
  /** INFERENCE (§1.1): HTTP `subscribe` of a recipient already on the list. Default `update` → `ok:update`. */
  subscribeExisting?: 'update' | 'duplicate';
  /** DOC §1.2: "Each client uses one unsubscribe list" unless configured per recipient list. Default false. */
  recipientListBasedUnsubscribes?: boolean;
  /** DOC §1.2: `GET /unsubscribes` mediaType default `GLOBAL`; `ALL` = no media filter when the param is absent. */
  unsubscribesDefaultMediaType?: MediaType | 'ALL';
  /** DOC §1.2: bulk unsubscribe maximum, 5000 (more → 400). */
  maxBulkUnsubscribes?: number;
  /** DOC §1.2: list `limit` must be < 10000 (else 400). */
  maxListLimit?: number;
  /** DOC §1.2: blocklist bulk delete maximum, 1000 (more → 400). */
  maxBlacklistDeletes?: number;
  /** INFERENCE (§1.2 lists only 201/400): REST blocklist add of an existing pattern. Default 201 (idempotent). */
  restBlacklistDuplicateStatus?: 201 | 400;
  /** Simulator-only: trust `X-Forwarded-For` / `X-Forwarded-Proto` for IP security and SSL checks. Default true. */
  trustForwardedHeaders?: boolean;
  /** INFERENCE: also POST the unsubscribe webhook for API-made unsubscribes (not only acted-out ones). Default false. */
  webhookOnApiChanges?: boolean;
  /** Recipients present at start and after every reset. */
  recipients?: OptimizelySeedRecipient[];
}

export interface ResolvedOptimizelyOptions extends Required<Omit<OptimizelyCampaignOptions, 'recipients'>> {
  recipients: OptimizelySeedRecipient[];
}

export function resolveOptimizelyOptions(
  opts: OptimizelyCampaignOptions,
  creds: OptimizelyCampaignSimCredentials,
): ResolvedOptimizelyOptions {
  const authCodes = opts.authCodes ?? { [creds.formAuthCode]: { recipientListId: creds.recipientListId } };
  const mailIds = opts.mailIds ?? {};
  const lists = new Set<string>([creds.recipientListId]);
  for (const c of Object.values(authCodes)) lists.add(c.recipientListId);
  for (const m of Object.values(mailIds)) if (m.recipientListId) lists.add(m.recipientListId);
  return {
    authCodes,
    mailIds,
    recipientLists: opts.recipientLists ?? [...lists],
    trackingOptOutEnabled: opts.trackingOptOutEnabled ?? true,
    httpApiStatus: opts.httpApiStatus ?? 200,
    httpApiContentType: opts.httpApiContentType ?? 'text/plain; charset=utf-8',
    wrongTagFormat: opts.wrongTagFormat ?? 'with-code',
    httpUnsubscribeMediaType: opts.httpUnsubscribeMediaType ?? 'GLOBAL',
    subscribeWhenUnsubscribed: opts.subscribeWhenUnsubscribed ?? 'reject',
    subscribeExisting: opts.subscribeExisting ?? 'update',
    recipientListBasedUnsubscribes: opts.recipientListBasedUnsubscribes ?? false,
    unsubscribesDefaultMediaType: opts.unsubscribesDefaultMediaType ?? 'GLOBAL',
    maxBulkUnsubscribes: opts.maxBulkUnsubscribes ?? 5000,
    maxListLimit: opts.maxListLimit ?? 10000,
    maxBlacklistDeletes: opts.maxBlacklistDeletes ?? 1000,
    restBlacklistDuplicateStatus: opts.restBlacklistDuplicateStatus ?? 201,
    trustForwardedHeaders: opts.trustForwardedHeaders ?? true,
    webhookOnApiChanges: opts.webhookOnApiChanges ?? false,
    recipients: opts.recipients ?? [],
  };
}

/** The credentials the simulator accepts (defaults: its module, ../optimizely-campaign.module.ts). */
export interface OptimizelyCampaignSimCredentials {
  /** REST API: `/rest/{clientId}/...` (esp-contracts.md §1.2). */
  clientId: string;
  /** REST API Basic auth user and password (§1.2). */
  apiUser: string;
  apiPassword: string;
  /** HTTP API form-service authorization code, bound to `recipientListId` (§1.1). */
  formAuthCode: string;
  /** The recipient list the form code is bound to, and the list REST writes default to. */
  recipientListId: string;
}
