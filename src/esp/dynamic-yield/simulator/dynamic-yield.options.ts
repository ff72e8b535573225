/** Options of the Dynamic Yield simulator; NOT FOUND / INFERENCE values of esp-contracts.md §4 with defaults. */

export interface DynamicYieldOptions {
  /** DOC §4.1: false = the standard host (server-side key only); true = the direct host (client-side key only). */
  direct?: boolean;
  /** DOC §4.1: US or EU host; informational only (reported in `/__sim/state`). Default `us`. */
  region?: 'us' | 'eu';
  /** NOT FOUND (§4.3 channel enum); INFERENCE default `['email', 'sms']` ("email and SMS integrations"). */
  reconnectChannels?: string[];
  /** NOT FOUND (§4.2 status codes); INFERENCE "2xx on accept": default 204 (no body). */
  collectSuccessStatus?: number;
  /** NOT FOUND (§4.3 SuccessUserData schema): 202 body; default undefined = empty body. */
  reconnectSuccessBody?: unknown;
  /** INFERENCE (§4.2 "401/403 on a bad key"): status for a missing or unknown key. Default 401. */
  missingKeyStatus?: number;
  /** INFERENCE (§4.1: server keys only on the standard host, client keys only on direct): wrong kind of key. Default 403. */
  wrongKeyKindStatus?: number;
  /** NOT FOUND (§4.2 rate limits): requests per second before 429. Default null = no limit. */
  rateLimitPerSecond?: number | null;
  /**
   * DOC §4.2: accept only the documented `cuidType`s per event (opt-out: email | external | he; opt-in: hashedEmail |
   * external | phone number). Default true; false accepts any of them on both events.
   */
  strictCuidTypes?: boolean;
}

export type ResolvedDynamicYieldOptions = Required<Omit<DynamicYieldOptions, 'reconnectSuccessBody'>> & {
  reconnectSuccessBody: unknown;
};

export function resolveDynamicYieldOptions(opts: DynamicYieldOptions): ResolvedDynamicYieldOptions {
  return {
    direct: opts.direct ?? false,
    region: opts.region ?? 'us',
    reconnectChannels: opts.reconnectChannels ?? ['email', 'sms'],
    collectSuccessStatus: opts.collectSuccessStatus ?? 204,
    reconnectSuccessBody: opts.reconnectSuccessBody,
    missingKeyStatus: opts.missingKeyStatus ?? 401,
    wrongKeyKindStatus: opts.wrongKeyKindStatus ?? 403,
    rateLimitPerSecond: opts.rateLimitPerSecond ?? null,
    strictCuidTypes: opts.strictCuidTypes ?? true,
  };
}

/** The credentials the simulator accepts (defaults: its module, ../dynamic-yield.module.ts). */
export interface DynamicYieldSimCredentials {
  /** Server-side key (`DY-API-Key`), accepted on the standard host (§4.1). */
  apiKey: string;
  /** Client-side key, accepted only when the simulator plays the `direct` host (§4.1). */
  clientApiKey: string;
}
