/**
 * The contract between the delivery engine and the ESP adapters.
 *
 * Pushes are state-based: an adapter receives the contact's *current* consent and makes the ESP
 * agree with it, so re-pushing the same snapshot is harmless (the engine relies on that when it
 * retries a whole batch after a transient failure).
 */

/**
 * An ESP's name as the configured modules give it (src/esp/registry.ts): any string, so a module
 * added to the configured list flows through delivery, reconciliation and metrics like the built-in ones.
 */
export type EspName = string;

/** What an ESP's name looks like (it becomes part of queue names, metric labels and URLs). */
export const ESP_NAME_PATTERN = /^[a-z][a-z0-9-]{0,47}$/;

export type EffectiveValue = 'opted_in' | 'opted_out' | 'unknown';

export interface ChannelState {
  state: EffectiveValue;
  /** Decided by a forced or recipient-sourced listing: Ometria then sends `@force_optin`. */
  authoritative: boolean;
  /** ISO-8601 moment of the deciding listing. */
  moment?: string;
  source?: string;
  /** How the consent was collected (device, form id…): Actito's "data collection way". */
  way?: Record<string, string>;
}

export interface ContactSnapshot {
  contactId: string;
  version: number;
  identities: {
    externalId?: string;
    email?: string;
    businessUnit?: string;
    phone?: string;
    pushId?: string;
  };
  /** Keyed by canonical channel (`email`, `sms`, `push`). */
  marketing: Record<string, ChannelState>;
  tracking: ChannelState;
  /**
   * Per ESP, the identity there that holds this contact's state, as an earlier push reported it
   * (`PushOutcome.holder`), so later pushes go to the same place (CrossEngage: `lead`).
   */
  espIdentities?: Readonly<Record<string, string>>;
}

/** What happened to one contact at one ESP, as a whole. */
export type PushOutcomeKind = 'pushed' | 'already_in_state' | 'not_applicable' | 'missing_identity' | 'reactivation_blocked' | 'dead_letter';

/**
 * What happened to one channel (`email`, `sms`, `push`… or `tracking`) of one contact at one ESP.
 * `reason` says why for every kind but pushed / already_in_state: which identity is missing, why
 * the ESP cannot carry the channel, why it refused.
 */
export type ChannelOutcome =
  | { kind: 'pushed' }
  | { kind: 'already_in_state' }
  | { kind: 'not_applicable' | 'missing_identity' | 'reactivation_blocked' | 'dead_letter'; reason: string };

/** Channel kinds that mean the ESP holds our state for that channel. */
export const CHANNEL_IN_STATE: ReadonlySet<PushOutcomeKind> = new Set(['pushed', 'already_in_state']);

export type PushOutcome = (
  | { kind: 'pushed' }
  | { kind: 'already_in_state' }
  | { kind: 'not_applicable'; detail: string }
  | { kind: 'missing_identity'; detail: string }
  | { kind: 'reactivation_blocked'; reason: string }
  | { kind: 'dead_letter'; reason: string }
) & {
  /**
   * One entry per decided channel the push covered (marketing channels by canonical name, and
   * `tracking`), including channels the ESP cannot carry (not_applicable, with why). Undecided
   * (`unknown`) channels have none: there is nothing to hold.
   */
  channels?: Record<string, ChannelOutcome>;
  /**
   * The identity at the ESP that now holds this contact's state, when it matters where (CrossEngage
   * `lead`: the profile addressed by email, which the user's externalId does not reach). Stored on
   * the contact (`espIdentities.<esp>`) and handed back in later snapshots and to reconciliation.
   */
  holder?: string;
};

export interface EspAdapter {
  readonly name: EspName;
  /** How many contacts the engine may hand to one push() call; 1 = no batching. */
  readonly maxBatch: number;
  /**
   * About how many contacts one request to the ESP carries, when fewer than `maxBatch` (an
   * adapter that groups contacts but sends one request each); push jobs are sized by it.
   */
  readonly contactsPerRequest?: number;
  /**
   * Pushes the current state of each contact. Per-contact results for outcomes; throws EspError
   * for whole-request failures (kinds retryable, rate_limited, auth) after the short in-job retries.
   * Every contact of the input has an entry in the returned map. `signal` also carries the
   * push's lane (esp/lane-scope.ts): pass it to every `kit.call`.
   */
  push(contacts: readonly ContactSnapshot[], signal?: AbortSignal): Promise<Map<string, PushOutcome>>;
  /** The ESP's documented bulk path, where it has one (bulk mode, services/esp-sync/bulk.ts). */
  readonly bulk?: EspBulkPath;
}

/** What the ESP says of a bulk it accepted. */
export type BulkStatus =
  | { state: 'pending' }
  /** `rejected`: contacts the ESP refused, by their place in the bulk (0-based, in the order sent), and why. */
  | { state: 'processed'; rejected?: { index: number; reason: string }[] }
  | { state: 'failed'; reason: string };

/**
 * An asynchronous bulk write: the ESP accepts a file of contacts at once and applies it later,
 * reporting when it has. State-based like push(): each contact's current state, never a delta.
 */
export interface EspBulkPath {
  /** Most contacts one bulk carries. */
  readonly maxContacts: number;
  /** Bulks the ESP accepts a UTC day (Actito: 12 a table); undefined = no documented limit. */
  readonly perDay?: number;
  /**
   * Sends one bulk. `id` is the ESP's id of it, for status(); `settled` holds the outcome of each
   * contact the bulk does not carry (nothing to send, a missing identity), which is final at once.
   * Throws EspError; kind `rate_limited` means the ESP's bulk quota is spent.
   */
  submit(contacts: readonly ContactSnapshot[], signal?: AbortSignal): Promise<{ id: string; settled: Map<string, PushOutcome> }>;
  status(id: string, signal?: AbortSignal): Promise<BulkStatus>;
  /** The outcome of a contact carried by a bulk the ESP reported processed (it still holds the state sent). */
  landedOutcome(contact: ContactSnapshot): PushOutcome;
}
