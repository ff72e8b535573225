import { type Connection, type Model, Schema } from 'mongoose';
import type { ContactIdentity, EffectiveState, Lane, Listing, ListingRef } from '../domain/index.js';
import type { ChannelOutcome } from '../esp/types.js';
import { IdentityOwnerCache } from './identity-owner-cache.js';

/**
 * MongoDB documents of consent-sync. Only the subset of shared/docs/mongo-compat.md §7 is used
 * (no transactions, no positional or conditional array updates, no TTL or partial indexes), so
 * the same code runs on real MongoDB and on the mongo-java-server test server.
 */

export type EventStatus = 'pending' | 'done';

/** A stored consent event: written before the API answers 202, applied later by the worker. */
export interface StoredEventDoc {
  _id: string; // eventId
  contact: ContactIdentity; // normalised
  kind: 'marketing' | 'tracking';
  channel?: string;
  value: 'opt_in' | 'opt_out';
  source: string;
  force: boolean;
  moment: string;
  momentClamped: boolean;
  way?: Record<string, string>;
  proof?: Record<string, string>;
  properties?: Record<string, unknown>;
  fingerprint: string; // detects a reused eventId with a different body
  receivedAt: Date;
  status: EventStatus;
  outcome?: string;
  contactId?: string;
  appliedAt?: Date;
}

/** Effective state as plain values, e.g. {marketing: {email: 'opted_out'}, tracking: 'unknown'}. */
export interface StateSummary {
  marketing: Record<string, string>;
  tracking: string;
}

export function summariseState(state: EffectiveState): StateSummary {
  return {
    marketing: Object.fromEntries(Object.entries(state.marketing).map(([channel, d]) => [channel, d.state])),
    tracking: state.tracking.state,
  };
}

export interface JournalEntry {
  eventId: string;
  outcome: string;
  previous: StateSummary;
  next: StateSummary;
  version: number;
  blockedBy?: ListingRef;
  appliedAt: Date;
}

/**
 * One ESP's pending push of a contact (see persistence/outbox.ts for how it is written).
 * The claim fields say which push may send this contact to this ESP right now: the ordering
 * invariant rests on them.
 */
export interface OutboxEntry {
  version: number;
  since: Date;
  /** The pending change includes an opt-out: counts toward the compliance SLO. */
  optOut: boolean;
  /** Delivery lane (domain/lane.ts): the most urgent of the changes this entry carries. */
  lane?: Lane;
  /** Epoch ms until which the push `claimBy` owns this entry; 0 (or past) = free to claim. */
  claimUntil?: number;
  claimBy?: string;
}

/**
 * `synced`: every decided channel the push covered is pushed or already in state; `partial`: some
 * decided channel is not (its entry in `channels` says which and why); `dead_letter`: the ESP
 * refused the contact as a whole.
 */
export type SyncStatus = 'synced' | 'partial' | 'pending' | 'dead_letter';

export interface SyncStatusEntry {
  status: SyncStatus;
  version: number;
  outcome?: string;
  reason?: string;
  /** Per channel (`email`, `sms`, `push`, `tracking`): what the last push did there, and why. */
  channels?: Record<string, ChannelOutcome>;
  at: Date;
  attempts?: number;
}

export interface DeadLetter {
  version: number;
  reason: string;
  at: Date;
}

export interface ContactDoc {
  _id: string;
  identities: ContactIdentity;
  listings: Listing[];
  effective: EffectiveState;
  version: number;
  /** Bumped by every write; the guard of the optimistic single-document update. */
  rev: number;
  outbox: Record<string, OutboxEntry>;
  sync: Record<string, SyncStatusEntry>;
  /** Per ESP, the identity there that holds the contact's state (PushOutcome.holder), e.g. crossengage: lead. */
  espIdentities?: Record<string, string>;
  /** Pushes an ESP refused permanently, with its reason, until replayed. */
  deadLetters?: Record<string, DeadLetter>;
  /** The last few applied events, so a retry after a crash audits the original outcome. */
  journal: JournalEntry[];
  identityConflicts?: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface IdentityDoc {
  _id: string; // identity key, e.g. ext:123, email:-:jo@example.com
  contactId: string;
}

export interface AuditDoc {
  _id: string; // eventId: one audit record per event, enforced by the primary key
  contactId?: string;
  identity: ContactIdentity;
  kind: string;
  channel?: string;
  value: string;
  force: boolean;
  source: string;
  way?: Record<string, string>;
  proof?: Record<string, string>;
  moment: string;
  momentClamped: boolean;
  received: Date;
  applied: Date;
  previous?: StateSummary;
  next?: StateSummary;
  version?: number;
  outcome: string;
  reason?: string;
  blockedBy?: ListingRef;
}

const mixed = Schema.Types.Mixed;
const options = { versionKey: false, minimize: false, strict: true } as const;

const storedEventSchema = new Schema<StoredEventDoc>(
  {
    _id: String,
    contact: { type: mixed, required: true },
    kind: { type: String, required: true },
    channel: String,
    value: { type: String, required: true },
    source: { type: String, required: true },
    force: { type: Boolean, required: true },
    moment: { type: String, required: true },
    momentClamped: { type: Boolean, default: false },
    way: mixed,
    proof: mixed,
    properties: mixed,
    fingerprint: { type: String, required: true },
    receivedAt: { type: Date, required: true },
    status: { type: String, required: true },
    outcome: String,
    contactId: String,
    appliedAt: Date,
  },
  { ...options, collection: 'consent_events' },
);
storedEventSchema.index({ status: 1, receivedAt: 1 });

const contactSchema = new Schema<ContactDoc>(
  {
    _id: String,
    identities: { type: mixed, default: {} },
    listings: { type: mixed, default: [] },
    effective: { type: mixed, required: true },
    version: { type: Number, default: 0 },
    rev: { type: Number, default: 0 },
    outbox: { type: mixed, default: {} },
    sync: { type: mixed, default: {} },
    deadLetters: { type: mixed, default: undefined },
    espIdentities: { type: mixed, default: undefined },
    journal: { type: mixed, default: [] },
    identityConflicts: { type: [String], default: undefined },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { ...options, collection: 'contacts' },
);

/**
 * The contact indexes of one ESP (ensureIndexes creates them for each configured ESP). Pending
 * pushes by lane and age: the outbox sweeper, the backlog and oldest-pending gauges and a
 * contact's place in line read them; without these indexes each of those reads scans every
 * contact (contacts with nothing pending index as null and are never in range). Dead letters,
 * oldest first: the dead-letter gauge and the operator's list (persistence/dead-letters.ts).
 */
export function espContactIndexes(esp: string): Record<string, 1>[] {
  return [{ [`outbox.${esp}.lane`]: 1, [`outbox.${esp}.since`]: 1 }, { [`deadLetters.${esp}.at`]: 1 }];
}

const identitySchema = new Schema<IdentityDoc>(
  { _id: String, contactId: { type: String, required: true } },
  { ...options, collection: 'contact_identities' },
);

const auditSchema = new Schema<AuditDoc>(
  {
    _id: String,
    contactId: String,
    identity: mixed,
    kind: String,
    channel: String,
    value: String,
    force: Boolean,
    source: String,
    way: mixed,
    proof: mixed,
    moment: String,
    momentClamped: Boolean,
    received: Date,
    applied: Date,
    previous: mixed,
    next: mixed,
    version: Number,
    outcome: String,
    reason: String,
    blockedBy: mixed,
  },
  { ...options, collection: 'consent_audit' },
);
auditSchema.index({ contactId: 1, applied: -1 });
auditSchema.index({ applied: 1, _id: 1 });

export interface Models {
  /** Identity owners already read (identities are immutable once inserted). */
  owners: IdentityOwnerCache;
  events: Model<StoredEventDoc>;
  contacts: Model<ContactDoc>;
  identities: Model<IdentityDoc>;
  audit: Model<AuditDoc>;
}

function register<T>(connection: Connection, name: string, schema: Schema<T>): Model<T> {
  return (connection.models[name] as Model<T> | undefined) ?? connection.model<T>(name, schema);
}

/** Identity owners kept per process: ~140 bytes each, so about 14 MB when full. */
const IDENTITY_OWNER_CACHE_SIZE = 100_000;

export function createModels(connection: Connection): Models {
  return {
    owners: new IdentityOwnerCache(IDENTITY_OWNER_CACHE_SIZE),
    events: register(connection, 'StoredEvent', storedEventSchema),
    contacts: register(connection, 'Contact', contactSchema),
    identities: register(connection, 'ContactIdentity', identitySchema),
    audit: register(connection, 'ConsentAudit', auditSchema),
  };
}

/**
 * Explicit index creation at start-up (autoIndex is off so a bad index never blocks a request),
 * with the per-ESP contact indexes of each of `esps`, the configured ESPs.
 */
export async function ensureIndexes(models: Models, esps: readonly string[]): Promise<void> {
  await Promise.all([
    models.events.createIndexes(),
    models.contacts.createIndexes(),
    models.identities.createIndexes(),
    models.audit.createIndexes(),
    ...esps.flatMap((esp) => espContactIndexes(esp).map((keys) => models.contacts.collection.createIndex(keys))),
  ]);
}

export function isDuplicateKeyError(err: unknown): boolean {
  const e = err as { code?: number; writeErrors?: { code?: number }[] };
  return e?.code === 11000 || (Array.isArray(e?.writeErrors) && e.writeErrors.every((w) => w.code === 11000));
}
