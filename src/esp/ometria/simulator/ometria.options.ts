/** Options of the Ometria simulator; limits and NOT FOUND / INFERENCE values of esp-contracts.md §5 with defaults. */

/** Subscription hierarchy sources without force, highest precedence first (DOC §5.3). */
export const OMETRIA_SOURCES = [
  'preference_centre',
  'api',
  'in_app',
  'csv',
  'form',
  'importer',
  'third_party',
] as const;
export type OmetriaSource = (typeof OMETRIA_SOURCES)[number];

/** DOC §5.3: preference centre > API, in-app and CSV (equal weight) > form or overlay > importer > third party. */
export const SOURCE_RANK: Record<OmetriaSource, number> = {
  preference_centre: 1,
  api: 2,
  in_app: 2,
  csv: 2,
  form: 3,
  importer: 4,
  third_party: 5,
};

export interface OmetriaSeedContact {
  '@collection'?: string;
  id: string;
  email?: string;
  customer_id?: string;
  marketing_optin?: string;
  '@force_optin'?: boolean;
}

export interface OmetriaOptions {
  /** DOC §5.1 (current doc version): push endpoint 8 requests/s (older version: 4); beyond → 429. */
  pushRatePerSecond?: number;
  /** DOC §5.1: Data API (profiles, unsubscribes, push errors) 4 requests/s; beyond → 429. */
  dataApiRatePerSecond?: number;
  /** NOT FOUND (§5.1 Retry-After): seconds sent in `Retry-After` with a 429. Default null = no header. */
  retryAfterSeconds?: number | null;
  /** DOC §5.1: at most 100 records per push (more → 400). */
  maxRecordsPerPush?: number;
  /** DOC §5.1: 60 KB per record (larger → rejected, "Payload invalid: Record is too large."). */
  maxRecordBytes?: number;
  /** DOC §5.1 (older version): 50k queued records, then 429; `X-QueueSize-Limit` / `X-QueueSize-Remaining`. */
  queueLimit?: number;
  /**
   * INFERENCE (§5 Simulator notes "apply asynchronously"): delay before queued records are applied and visible to
   * reads. Default 0 = applied before the push is answered (deterministic tests); set > 0 to exercise the async path.
   */
  applyDelayMs?: number;
  /** INFERENCE (§5.2 "401 or 403 on a bad key"; 403 is the documented code): missing/wrong `X-Ometria-Auth`. Default 403. */
  authFailureStatus?: number;
  /** INFERENCE (§5.1 "Do not mix object types in one call"): mixed `@type`s → 400. Default true. */
  rejectMixedTypes?: boolean;
  /** DOC §5.4: API-originated unsubscribes are NOT returned by `/v2/unsubscribes`. Default false. */
  includeApiUnsubscribes?: boolean;
  /**
   * Status without force (§5.3). `optout-wins` (DOC default): any opted-out listing keeps the contact opted out.
   * `hierarchy` (INFERENCE): the listing of the highest-precedence source decides; ties → opt-out.
   */
  nonForcedRule?: 'optout-wins' | 'hierarchy';
  /** INFERENCE: hierarchy source of a listing's `@collection`. Unlisted collections count as `api`. */
  collectionSources?: Record<string, OmetriaSource>;
  /** DOC §5.3 (account feature): timestamps follow every processed listing with new timestamp values. Default false. */
  enhancedForceOptIn?: boolean;
  /** DOC §5.4: `GET /v2/profiles?limit` maximum, 250 (more → 400). */
  maxProfilesLimit?: number;
  /** DOC §5.2: `/v2/push/_errors` returns the last 100 errors. */
  maxErrors?: number;
  /** Contacts present at start and after every reset (applied synchronously, as pushed through the API). */
  contacts?: OmetriaSeedContact[];
}

export interface ResolvedOmetriaOptions extends Required<Omit<OmetriaOptions, 'retryAfterSeconds'>> {
  retryAfterSeconds: number | null;
}

export function resolveOmetriaOptions(opts: OmetriaOptions): ResolvedOmetriaOptions {
  return {
    pushRatePerSecond: opts.pushRatePerSecond ?? 8,
    dataApiRatePerSecond: opts.dataApiRatePerSecond ?? 4,
    retryAfterSeconds: opts.retryAfterSeconds ?? null,
    maxRecordsPerPush: opts.maxRecordsPerPush ?? 100,
    maxRecordBytes: opts.maxRecordBytes ?? 60 * 1024,
    queueLimit: opts.queueLimit ?? 50_000,
    applyDelayMs: opts.applyDelayMs ?? 0,
    authFailureStatus: opts.authFailureStatus ?? 403,
    rejectMixedTypes: opts.rejectMixedTypes ?? true,
    includeApiUnsubscribes: opts.includeApiUnsubscribes ?? false,
    nonForcedRule: opts.nonForcedRule ?? 'optout-wins',
    collectionSources: opts.collectionSources ?? {},
    enhancedForceOptIn: opts.enhancedForceOptIn ?? false,
    maxProfilesLimit: opts.maxProfilesLimit ?? 250,
    maxErrors: opts.maxErrors ?? 100,
    contacts: opts.contacts ?? [],
  };
}

/** The credentials the simulator accepts (defaults: its module, ../ometria.module.ts). */
export interface OmetriaSimCredentials {
  /** `X-Ometria-Auth` (§5.1). */
  apiKey: string;
}
