/** Options of the CrossEngage simulator; NOT FOUND / INFERENCE values of esp-contracts.md §2 with their defaults. */

export interface CrossEngageSeedUser {
  id: string;
  email?: string;
  businessUnit?: string;
  traits?: Record<string, unknown>;
}

export interface CrossEngageSeedLead {
  email: string;
  businessUnit?: string;
}

export interface CrossEngageOptions {
  /** NOT FOUND (§2.4/§2.5 Simulator notes): status when `X-XNG-ApiVersion` is missing. Default 400. */
  missingVersionStatus?: number;
  /** INFERENCE (§2: opt-out/blacklist/events/leads are v1 only): those endpoints reject version 2 with 400. Default true. */
  strictApiVersion?: boolean;
  /** DOC §2.2: at most 50 events per `POST /events` (more → 400). */
  maxEventsPerRequest?: number;
  /** DOC §2.3: at most 1000 users per `POST /users/batch` (more → 400, code 9). */
  maxBatchUsers?: number;
  /** INFERENCE (§2.1 lists no 404 for recipient-status): unknown user → `default` 200 all-false, or `not-found` 404. */
  unknownUserRecipientStatus?: 'default' | 'not-found';
  /** INFERENCE (§2.2, async 202): events for an unknown external id `create` the user (default) or are `ignore`d. */
  eventsForUnknownUser?: 'create' | 'ignore';
  /** DOC seeds/001 "(Re)Opt In" (§2.2, corrected): the event that sets the opt-out status back to false. Default "Opt In"; null = no such event. */
  optInEventName?: string | null;
  /** INFERENCE (§2.1): `GET optout-status?channelType=X` answers `optOutAll || X opted out`. Default true. */
  channelReadIncludesAll?: boolean;
  /** DOC §2.3: a trackingId lives 24 h, then 404. */
  trackingTtlMs?: number;
  users?: CrossEngageSeedUser[];
  leads?: CrossEngageSeedLead[];
}

export type ResolvedCrossEngageOptions = Required<CrossEngageOptions>;

export function resolveCrossEngageOptions(opts: CrossEngageOptions): ResolvedCrossEngageOptions {
  return {
    missingVersionStatus: opts.missingVersionStatus ?? 400,
    strictApiVersion: opts.strictApiVersion ?? true,
    maxEventsPerRequest: opts.maxEventsPerRequest ?? 50,
    maxBatchUsers: opts.maxBatchUsers ?? 1000,
    unknownUserRecipientStatus: opts.unknownUserRecipientStatus ?? 'default',
    eventsForUnknownUser: opts.eventsForUnknownUser ?? 'create',
    optInEventName: opts.optInEventName === undefined ? 'Opt In' : opts.optInEventName,
    channelReadIncludesAll: opts.channelReadIncludesAll ?? true,
    trackingTtlMs: opts.trackingTtlMs ?? 24 * 60 * 60 * 1000,
    users: opts.users ?? [],
    leads: opts.leads ?? [],
  };
}

/** The credentials the simulator accepts (defaults: its module, ../crossengage.module.ts). */
export interface CrossEngageSimCredentials {
  /** `X-XNG-AuthToken` master API key (§2). */
  authToken: string;
}
