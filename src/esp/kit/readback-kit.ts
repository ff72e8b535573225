/**
 * What every ESP's read-back shares: its types, cursors and parsing helpers. The registry that builds
 * one read-back per ESP is `readback.ts`; this module stays apart from it so that the ESP modules
 * import their kit without importing the registry that imports them.
 *
 * Read-back of each ESP's own suppression state, for reconciliation (product.md §4;
 * esp-contracts.md §1.2, §2.5, §3.4, §4.4, §5.4, §6).
 *
 * Terminology:
 * - read-back: what an ESP says about a person's consent, read from the ESP itself.
 * - list read-back: the ESP's suppression list can be paged (Optimizely Campaign, Ometria).
 * - per-contact read-back: the ESP is asked about one person at a time (CrossEngage, Actito).
 * - cursor: an opaque, versioned string that resumes a paged read exactly where the previous page
 *   ended, also in another process after a crash. Never build or parse one outside the ESP's module.
 *
 * What a read-back cannot see it says so (`not_readable`, `kind: 'none'`, or a documented gap in the
 * ESP's module) instead of returning an empty answer that would look like "no drift".
 */
import { EspError } from './http/errors.js';
import type { EspName } from '../types.js';

export interface RemoteSuppression {
  /** How to find our contact: whatever identity the ESP returns. */
  identity: { email?: string; externalId?: string; phone?: string; pushId?: string; businessUnit?: string };
  channel: 'email' | 'sms' | 'push' | 'tracking';
  state: 'opted_out' | 'opted_in';
  /** When the ESP recorded it (ISO-8601 UTC); the opt_out event we ingest takes this moment. */
  at: string;
  /** ESP's own reason/type, e.g. list_unsubscribe, link_unsubscribe, preferences_centre, blocklist, sms_stop. */
  type: string;
  /**
   * Set only when the item is what the ESP holds now (not a log entry that outlives a re-subscribe)
   * and the ESP dates its last change: the latest moment (ISO-8601 UTC) anything of the record
   * holding this state changed. An ESP-side unsubscribe moves it, so a state unchanged since before
   * the decision we pushed is our push that did not stick, not the person acting.
   */
  lastChangedAt?: string;
}

/**
 * One page of a list read-back. `nextCursor` undefined = the sweep is complete. `pageSize` bounds the
 * ESP entries read for the page (rows, profiles); an entry gives one item, none (it names no single
 * contact, e.g. a wildcard blocklist pattern) or one per channel (an Ometria profile: email and sms).
 * A page can therefore be empty while `nextCursor` is set: keep paging until it is undefined.
 */
export interface ReadBackPage {
  items: RemoteSuppression[];
  nextCursor: string | undefined;
}

/** One contact's channels whose opt-out we hold, for `ListReadBack.checkOptOuts`. */
export interface OptOutCheck {
  identity: RemoteSuppression['identity'];
  channels: readonly RemoteSuppression['channel'][];
}

/** ESPs whose suppression list can be paged (Optimizely REST /unsubscribes + blocklist, Ometria /v2/unsubscribes). */
export interface ListReadBack {
  readonly kind: 'list';
  /** `cursor` undefined starts a new sweep; rejects with an EspError (kinds as for pushes). */
  listPage(cursor: string | undefined, pageSize: number, signal?: AbortSignal): Promise<ReadBackPage>;
  /**
   * The other direction, for a list that names opt-outs only (Optimizely): whether the ESP holds
   * each asked (contact, channel), read in bulk. One item per pair the ESP has NO opt-out for
   * (`opted_in`: an opt-out list lets an absent recipient be sent to); the list sweep reports the
   * others. Absent when the list already shows both directions (Ometria's profiles).
   */
  checkOptOuts?(checks: readonly OptOutCheck[], signal?: AbortSignal): Promise<RemoteSuppression[]>;
}

/** ESPs read per contact (CrossEngage recipient-status for full users, Actito profile subscriptions). */
export interface ContactReadBack {
  readonly kind: 'per_contact';
  /**
   * The ESP's state for one contact: `unknown_contact` when the ESP does not know the identity,
   * `not_readable` when the ESP cannot be asked about this kind of contact (e.g. CrossEngage leads).
   * `holder` is the identity our pushes found holding the contact's state there (the contact's
   * `espIdentities.<esp>`), so the read looks where the pushes go.
   * Rejects with an EspError for whole-request failures.
   */
  readContact(
    identity: RemoteSuppression['identity'],
    signal?: AbortSignal,
    holder?: string,
  ): Promise<RemoteSuppression[] | 'unknown_contact' | 'not_readable'>;
}

/** Dynamic Yield: no read-back; its state is re-asserted from ours. */
export interface NoReadBack {
  readonly kind: 'none';
  readonly reason: string;
}

export type EspReadBack = ListReadBack | ContactReadBack | NoReadBack;

// Helpers shared by the ESP read-back modules.

const CURSOR_VERSION = 'rb1';

/** An opaque cursor: version, ESP and the ESP's own position, base64url-encoded JSON. */
export function encodeCursor(esp: EspName, position: unknown): string {
  const json = JSON.stringify({ e: esp, p: position });
  return `${CURSOR_VERSION}.${Buffer.from(json, 'utf8').toString('base64url')}`;
}

/**
 * The ESP's position from a cursor made by `encodeCursor` for the same ESP, checked by `parse`
 * (which returns undefined for a shape it does not accept). A foreign, stale or damaged cursor is a
 * permanent EspError: resuming from a guessed position could skip suppressions silently.
 */
export function decodeCursor<T>(
  esp: EspName,
  cursor: string,
  parse: (position: unknown) => T | undefined,
): T {
  const invalid = (why: string) =>
    new EspError(esp, 'permanent', `${esp}: invalid read-back cursor (${why}); start a new sweep`);
  const [version, body, ...rest] = cursor.split('.');
  if (version !== CURSOR_VERSION || body === undefined || rest.length > 0) throw invalid('unknown format');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw invalid('not decodable');
  }
  if (decoded === null || typeof decoded !== 'object') throw invalid('not decodable');
  const { e, p } = decoded as { e?: unknown; p?: unknown };
  if (e !== esp) throw invalid(`made for ${typeof e === 'string' ? e : 'another ESP'}`);
  const position = parse(p);
  if (position === undefined) throw invalid('unexpected position');
  return position;
}

/**
 * ISO-8601 UTC from the timestamp shapes the ESPs use: ISO with `Z` or an offset (`+00:00`, `+0000`,
 * `+00`), and `yyyy-MM-dd HH:mm:ss[+00]` (Ometria `/v2/unsubscribes`, Actito data collection dates).
 * A time without a zone is taken as UTC (INFERENCE: both ESPs document UTC examples only).
 * Undefined when the value is not such a timestamp.
 */
export function toIsoUtc(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match =
    /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(
      value.trim(),
    );
  if (!match) return undefined;
  const [, date, time, zone] = match;
  let offset = 'Z';
  if (zone && zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    offset = `${zone[0]}${digits.slice(0, 2)}:${digits.slice(2, 4) || '00'}`;
  }
  const ms = Date.parse(`${date}T${time}${offset}`);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** `pageSize` as an integer in [1, max]. */
export function clampPageSize(pageSize: number, max: number): number {
  if (!Number.isFinite(pageSize)) return max;
  return Math.min(max, Math.max(1, Math.floor(pageSize)));
}

/** A 2xx answer whose body is not the documented shape: a contract mismatch, not worth retrying. */
export function unexpectedResponse(esp: EspName, operation: string): EspError {
  return new EspError(esp, 'permanent', `${esp}: ${operation} answered with an unexpected body shape`);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A non-empty string field, else undefined. */
export function stringField(record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key];
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}
