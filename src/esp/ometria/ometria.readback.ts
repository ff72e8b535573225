import type { Logger } from 'pino';
import type { OmetriaSettings } from './ometria.settings.js';
import { type AdapterKit, createAdapterKit, statusOf } from '../kit/adapter-kit.js';
import { EspError } from '../kit/http/errors.js';
import {
  clampPageSize,
  decodeCursor,
  type ListReadBack,
  encodeCursor,
  isRecord,
  type ReadBackPage,
  type RemoteSuppression,
  stringField,
  toIsoUtc,
  unexpectedResponse,
} from '../kit/readback-kit.js';

/**
 * Ometria read-back (esp-contracts.md §5.4), in two phases per sweep:
 *
 * 1. `GET /v2/unsubscribes?since&before` — the unsubscribe log (preferences_centre, app,
 *    list_unsubscribe, link_unsubscribe, stopword_unsubscribe_TF/DO), oldest first. API-originated
 *    unsubscribes are NOT in it (§5.4), which is why phase 2 exists.
 *    Paging: `since` = the second of the last row handed out, `offset` = rows of that second already
 *    handed out, `limit` = page size, so offsets stay small and rows logged later never shift them.
 *    `limit`/`offset` are not in the contract (INFERENCE, as the simulator implements them). A resumed
 *    page re-reads the last row handed out; a server that ignores `limit`/`offset` (or a log that
 *    changed) is detected and fails the sweep (permanent) instead of skipping or looping. `before` is
 *    fixed at the sweep's start, so a sweep ends even while people keep unsubscribing; later rows
 *    belong to the next sweep.
 * 2. `GET /v2/profiles?limit(≤250)&offset` — every profile's `marketing_optin` (email) and
 *    `channels.sms.allow_marketing`, both ways: an opted-in profile we hold opted out is a lost push.
 *
 * Data API reads are limited to 4 requests/s per account (DOC §5.1), separately from pushes.
 */

/** DOC §5.1: Data API 4 requests/s (the push endpoint has its own 8 rps). */
const DATA_API_RPS = 4;
/** DOC §5.4: `GET /v2/profiles?limit` ≤ 250. */
const MAX_PROFILES_LIMIT = 250;
/** INFERENCE: no documented maximum for `/v2/unsubscribes`; pages of at most 1000 rows. */
const MAX_UNSUBSCRIBES_LIMIT = 1_000;

/** DOC §5.4: SMS stop words; every other type is an email unsubscribe. */
export function unsubscribeChannel(type: string): 'email' | 'sms' {
  return /^stopword_unsubscribe/i.test(type) ? 'sms' : 'email';
}

/** `YYYY-MM-DDTHH:MM:SS` (the documented `since`/`before` format) of an instant, truncated to the second. */
export function ometriaSecond(iso: string): string {
  return iso.slice(0, 19);
}

export type OmetriaPosition =
  /**
   * Unsubscribe log: rows from `since` (a second) before `before`; `skip` of them already handed
   * out, the last of which has the key `k` (checked when the next page re-reads it).
   */
  | { p: 'u'; since?: string; skip: number; before: string; k?: string }
  /** Profiles from `offset`. */
  | { p: 'p'; o: number };

type LogPosition = Extract<OmetriaPosition, { p: 'u' }>;

const SECOND = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;

export function parsePosition(value: unknown): OmetriaPosition | undefined {
  if (!isRecord(value)) return undefined;
  const count = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  if (value['p'] === 'p') return count(value['o']) ? { p: 'p', o: value['o'] } : undefined;
  if (value['p'] !== 'u') return undefined;
  const { since, skip, before, k } = value;
  if (!count(skip) || typeof before !== 'string' || !SECOND.test(before)) return undefined;
  if (since !== undefined && (typeof since !== 'string' || !SECOND.test(since))) return undefined;
  if (k !== undefined && typeof k !== 'string') return undefined;
  return {
    p: 'u',
    skip,
    before,
    ...(since === undefined ? {} : { since }),
    ...(k === undefined ? {} : { k }),
  };
}

/** One `/v2/unsubscribes` row, read. `at` undefined = unreadable timestamp. */
export interface UnsubscribeRow {
  email?: string;
  profileId?: string;
  at?: string;
  type: string;
  reason?: string;
}

export function readUnsubscribeRow(row: unknown): UnsubscribeRow | undefined {
  if (!isRecord(row)) return undefined;
  const email = stringField(row, 'email_address');
  const profileId =
    typeof row['profile_id'] === 'number' ? String(row['profile_id']) : stringField(row, 'profile_id');
  const at = toIsoUtc(row['timestamp']);
  const reason = stringField(row, 'reason');
  return {
    type: stringField(row, 'type') ?? 'unsubscribe',
    ...(email ? { email } : {}),
    ...(profileId ? { profileId } : {}),
    ...(at ? { at } : {}),
    ...(reason ? { reason } : {}),
  };
}

export function rowKey(row: UnsubscribeRow): string {
  return `${row.at ?? ''}|${row.email ?? ''}|${row.profileId ?? ''}|${row.type}`;
}

/**
 * `offset`/`limit` of the next request: a resumed page re-reads the last row handed out (one row of
 * overlap), which proves the server honours `offset` and the log did not shift under us.
 */
export function unsubscribesRequest(
  position: LogPosition,
  pageSize: number,
): { offset: number; limit: number } {
  const overlap = position.skip > 0 && position.k !== undefined ? 1 : 0;
  return { offset: position.skip - overlap, limit: pageSize + overlap };
}

/**
 * Pure paging step of the unsubscribe log: the rows to hand out and the next position, or why the
 * answer cannot be paged safely (then the sweep must start again rather than skip or loop).
 */
export function nextUnsubscribesPosition(
  rows: readonly UnsubscribeRow[],
  position: LogPosition,
  pageSize: number,
): { take: readonly UnsubscribeRow[]; next: OmetriaPosition; done: boolean } | { error: string } {
  const { offset, limit } = unsubscribesRequest(position, pageSize);
  const overlap = position.skip - offset;
  if (rows.length > limit)
    return { error: `answered ${rows.length} rows for limit ${limit} (limit ignored?)` };
  if (overlap > 0 && (rows[0] === undefined || rowKey(rows[0]) !== position.k)) {
    return {
      error: 'the last row handed out is no longer at its offset (offset ignored, or the log changed)',
    };
  }
  const take = rows.slice(overlap);
  const last = take[take.length - 1];
  if (rows.length < limit || last === undefined) return { take, next: { p: 'p', o: 0 }, done: true };
  const k = rowKey(last);
  if (last.at === undefined) {
    // No readable timestamp to move `since` to: advance the offset within the same `since`.
    return { take, next: { ...position, skip: position.skip + take.length, k }, done: false };
  }
  const second = ometriaSecond(last.at);
  let sameSecond = 0;
  for (let i = take.length - 1; i >= 0; i--) {
    const at = take[i]?.at;
    if (at === undefined || ometriaSecond(at) !== second) break;
    sameSecond++;
  }
  // The whole page in the old `since` second: the skip grows; else it restarts at the new second.
  const skip = second === position.since ? position.skip + take.length : sameSecond;
  return { take, next: { p: 'u', since: second, skip, before: position.before, k }, done: false };
}

/** An unsubscribe log row as a suppression; undefined without an identity or a timestamp. */
export function mapUnsubscribeRow(
  row: UnsubscribeRow,
  identity: RemoteSuppression['identity'] | undefined,
): RemoteSuppression | undefined {
  const who = identity ?? (row.email ? { email: row.email } : undefined);
  if (!who || row.at === undefined) return undefined;
  return {
    identity: who,
    channel: unsubscribeChannel(row.type),
    state: 'opted_out',
    at: row.at,
    type: row.type,
  };
}

function optinState(value: unknown): RemoteSuppression['state'] | undefined {
  if (value === 'EXPLICITLY_OPTEDOUT' || value === false) return 'opted_out';
  if (value === 'EXPLICITLY_OPTEDIN' || value === true) return 'opted_in';
  return undefined;
}

export function profileIdentity(profile: Record<string, unknown>): RemoteSuppression['identity'] | undefined {
  const email = stringField(profile, 'email');
  const customerId =
    typeof profile['customer_id'] === 'number'
      ? String(profile['customer_id'])
      : stringField(profile, 'customer_id');
  if (!email && !customerId) return undefined;
  // Our adapter sends the externalId as `customer_id` (ometria.mapping.ts).
  return { ...(email ? { email } : {}), ...(customerId ? { externalId: customerId } : {}) };
}

/**
 * A profile's email (`marketing_optin`) and SMS (`channels.sms.allow_marketing`) state (§5.4). The
 * moment is the channel's `timestamp_unsubscribed` / `timestamp_subscribed`, else the profile's
 * `updated`; a state without any readable moment is left out.
 */
export function mapProfile(profile: unknown): RemoteSuppression[] {
  if (!isRecord(profile)) return [];
  const identity = profileIdentity(profile);
  if (!identity) return [];
  const updated = toIsoUtc(profile['updated']);
  const out: RemoteSuppression[] = [];
  const add = (channel: 'email' | 'sms', value: unknown, holder: Record<string, unknown>, type: string) => {
    const state = optinState(value);
    if (!state) return;
    const at =
      toIsoUtc(holder[state === 'opted_out' ? 'timestamp_unsubscribed' : 'timestamp_subscribed']) ?? updated;
    // `updated` moves with every change of the profile (§5.4), ours or the person's.
    if (at) out.push({ identity, channel, state, at, type, ...(updated ? { lastChangedAt: updated } : {}) });
  };
  add('email', profile['marketing_optin'], profile, 'profile_marketing_optin');
  const channels = profile['channels'];
  const sms = isRecord(channels) ? channels['sms'] : undefined;
  if (isRecord(sms)) add('sms', sms['allow_marketing'], sms, 'profile_sms_allow_marketing');
  return out;
}

export interface OmetriaReadBackOptions {
  now?: () => number;
  /** Data API requests per second; default 4 (DOC §5.1). No environment variable exists for it yet. */
  dataApiRps?: number;
}

async function get(
  kit: AdapterKit,
  operation: string,
  path: string,
  params: Record<string, unknown>,
  signal?: AbortSignal,
) {
  const res = await kit.call(operation, signal, () => kit.http.get(path, { params, signal }));
  return res.data as unknown;
}

/** The identity of a log row without an email, from its profile; undefined if the profile is gone. */
async function identityOfProfile(kit: AdapterKit, profileId: string, signal?: AbortSignal) {
  try {
    const profile = await get(
      kit,
      'readback-profile',
      `/v2/profiles/${encodeURIComponent(profileId)}`,
      {},
      signal,
    );
    return isRecord(profile) ? profileIdentity(profile) : undefined;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

async function unsubscribesPage(
  kit: AdapterKit,
  position: LogPosition,
  pageSize: number,
  signal?: AbortSignal,
): Promise<{ items: RemoteSuppression[]; next: OmetriaPosition; done: boolean }> {
  const size = clampPageSize(pageSize, MAX_UNSUBSCRIBES_LIMIT);
  const { offset, limit } = unsubscribesRequest(position, size);
  const data = await get(
    kit,
    'readback-unsubscribes',
    '/v2/unsubscribes',
    { ...(position.since ? { since: position.since } : {}), before: position.before, limit, offset },
    signal,
  );
  if (!Array.isArray(data)) throw unexpectedResponse('ometria', 'GET /v2/unsubscribes');
  const rows = data.map(readUnsubscribeRow).filter((r): r is UnsubscribeRow => r !== undefined);
  const step = nextUnsubscribesPosition(rows, position, size);
  if ('error' in step) {
    throw new EspError(
      'ometria',
      'permanent',
      `ometria: /v2/unsubscribes cannot be paged from this cursor: ${step.error}; start a new sweep`,
    );
  }
  const items: RemoteSuppression[] = [];
  for (const row of step.take) {
    const identity =
      row.email === undefined && row.profileId !== undefined
        ? await identityOfProfile(kit, row.profileId, signal)
        : undefined;
    const item = mapUnsubscribeRow(row, identity);
    if (item) items.push(item);
  }
  return { items, next: step.next, done: step.done };
}

async function profilesPage(
  kit: AdapterKit,
  position: Extract<OmetriaPosition, { p: 'p' }>,
  pageSize: number,
  signal?: AbortSignal,
): Promise<ReadBackPage> {
  const limit = clampPageSize(pageSize, MAX_PROFILES_LIMIT);
  const data = await get(kit, 'readback-profiles', '/v2/profiles', { limit, offset: position.o }, signal);
  if (!Array.isArray(data)) throw unexpectedResponse('ometria', 'GET /v2/profiles');
  const items = data.flatMap(mapProfile);
  return {
    items,
    nextCursor:
      data.length < limit ? undefined : encodeCursor('ometria', { p: 'p', o: position.o + data.length }),
  };
}

export function createOmetriaReadBack(
  settings: OmetriaSettings,
  logger: Logger,
  options: OmetriaReadBackOptions = {},
): ListReadBack {
  const now = options.now ?? Date.now;
  const kit = createAdapterKit(
    { ...settings, rateLimit: { max: options.dataApiRps ?? DATA_API_RPS, durationMs: 1_000 } },
    logger.child({ readback: true }),
    { headers: { 'X-Ometria-Auth': settings.credentials.apiKey } },
  );

  return {
    kind: 'list',
    async listPage(cursor, pageSize, signal): Promise<ReadBackPage> {
      const position: OmetriaPosition =
        cursor === undefined
          ? // The sweep covers what was logged before its first page (the next whole second).
            {
              p: 'u',
              skip: 0,
              before: ometriaSecond(new Date(Math.floor(now() / 1000) * 1000 + 1000).toISOString()),
            }
          : decodeCursor('ometria', cursor, parsePosition);
      if (position.p === 'p') return profilesPage(kit, position, pageSize, signal);
      const { items, next, done } = await unsubscribesPage(kit, position, pageSize, signal);
      // The log ending without a row for this page: go straight on with the profiles.
      if (done && items.length === 0) return profilesPage(kit, { p: 'p', o: 0 }, pageSize, signal);
      return { items, nextCursor: encodeCursor('ometria', next) };
    },
  };
}
