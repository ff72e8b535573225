import type { Logger } from 'pino';
import type { OptimizelyCampaignSettings } from './optimizely-campaign.settings.js';
import { type AdapterKit, createAdapterKit } from '../kit/adapter-kit.js';
import { basicAuth } from '../kit/http/client.js';
import { EspError } from '../kit/http/errors.js';
import {
  clampPageSize,
  decodeCursor,
  type EspReadBack,
  encodeCursor,
  type OptOutCheck,
  isRecord,
  type ReadBackPage,
  type RemoteSuppression,
  stringField,
  toIsoUtc,
  unexpectedResponse,
} from '../kit/readback-kit.js';

/**
 * Optimizely Campaign read-back (esp-contracts.md §1.2, the REST API; the HTTP API cannot read):
 * `GET /{clientId}/unsubscribes` once per relevant media type, then `GET /{clientId}/blacklistentries`,
 * each paged by `offset`/`limit` in `created` order, ascending.
 *
 * Offset paging over a list that changes under us (a reactivation push removes an entry before our
 * position) would skip entries. So the cursor also remembers the last entry it handed out (its
 * `created` and key), and a resumed page reads a little before the offset to find that entry again;
 * when it is gone, entries at or after its `created` are handed out again (duplicates are harmless to
 * reconciliation, misses are not). Entries added later have a later `created` and land at the end.
 *
 * Not readable over REST: tracking opt-outs (§1.2 has only POST/DELETE), so no `tracking` items.
 *
 * The lists name opt-outs only. `checkOptOuts` reads the other direction for contacts we hold
 * opted out: `GET /unsubscribes?recipientIds=a,b,…&mediaType=` (§1.2) per media type, in chunks of
 * CHECK_CHUNK ids, and, when our opt-outs go to the blocklist (OPTIMIZELY_OPTOUT_ACTION=blacklist),
 * `GET /blacklistentries/blacklisted?address=` per address. A pair with no entry is opted in there.
 */

/** INFERENCE: recipient ids per `recipientIds` query, so the URL stays a few kilobytes at most. */
const CHECK_CHUNK = 100;

/** DOC §1.2: list `limit` must be < 10000. */
const MAX_LIST_LIMIT = 9_999;
/** Largest page handed to the caller, leaving room in `limit` for the look-behind. */
const MAX_PAGE_SIZE = 5_000;
/** How far a resumed page first reads before its offset; grows ×4 while the anchor is not found. */
const INITIAL_LOOK_BEHIND = 16;

/**
 * INFERENCE (the meaning of GLOBAL is not documented; §1.2 names it the default mediaType, and mail
 * links and the HTTP API unsubscribe there): a GLOBAL entry is an email unsubscribe. Our adapter
 * treats it so too (an email re-opt-in lifts it, OPTIMIZELY_REOPTIN_CLEARS_GLOBAL).
 */
const GLOBAL = 'GLOBAL';
const GLOBAL_CHANNEL = 'email';

type Channel = RemoteSuppression['channel'];
const CHANNELS: ReadonlySet<string> = new Set<Channel>(['email', 'sms', 'push']);

export type OptimizelySource =
  | { kind: 'unsubscribes'; mediaType: string; channel: Channel }
  | { kind: 'blacklist' };

/** The sources a sweep reads, in order: GLOBAL, each configured media type, then the blocklist. */
export function readBackSources(
  settings: Pick<OptimizelyCampaignSettings, 'mediaTypes'>,
): OptimizelySource[] {
  const sources: OptimizelySource[] = [{ kind: 'unsubscribes', mediaType: GLOBAL, channel: GLOBAL_CHANNEL }];
  const seen = new Set([GLOBAL]);
  for (const [channel, mediaType] of Object.entries(settings.mediaTypes)) {
    if (!CHANNELS.has(channel) || seen.has(mediaType)) continue;
    seen.add(mediaType);
    sources.push({ kind: 'unsubscribes', mediaType, channel: channel as Channel });
  }
  sources.push({ kind: 'blacklist' });
  return sources;
}

export function sourceKey(source: OptimizelySource): string {
  return source.kind === 'blacklist' ? 'blacklist' : `unsubscribes:${source.mediaType}`;
}

/** Where a sweep stands: the source (by key, so a changed configuration is noticed) and the offset in it. */
export interface OptimizelyPosition {
  /** sourceKey of the source being read. */
  s: string;
  /** Offset of the next unread entry. */
  o: number;
  /** `created` (epoch ms) and key of the last entry handed out, the anchor of the next page. */
  c?: number;
  k?: string;
}

export function parsePosition(value: unknown): OptimizelyPosition | undefined {
  if (!isRecord(value)) return undefined;
  const { s, o, c, k } = value;
  if (typeof s !== 'string' || typeof o !== 'number' || !Number.isInteger(o) || o < 0) return undefined;
  if ((c === undefined) !== (k === undefined)) return undefined;
  if (c !== undefined && (typeof c !== 'number' || !Number.isFinite(c) || typeof k !== 'string'))
    return undefined;
  return { s, o, ...(c === undefined ? {} : { c: c as number, k: k as string }) };
}

/** One entry of a page, reduced to what paging needs. */
export interface WindowRow {
  /** `created` in epoch ms; NaN when missing or unreadable. */
  at: number;
  key: string;
}

export type WindowResult =
  | { kind: 'look_further_back' }
  | {
      kind: 'ok';
      /** Indexes of `rows` to hand out, in order. */
      take: number[];
      /** Position after this page; `done` = the source is exhausted. */
      next: OptimizelyPosition;
      done: boolean;
    };

/**
 * Pure paging step. `rows` were read from `windowOffset` with `requested` as limit; `position` is
 * where the previous page ended. Finds the anchor (the last entry handed out), or, when it is gone,
 * resumes at its `created`; asks to look further back when neither can be told from this window.
 */
export function consumeWindow(
  rows: readonly WindowRow[],
  windowOffset: number,
  requested: number,
  position: OptimizelyPosition,
  pageSize: number,
  canLookFurther: boolean,
): WindowResult {
  let start = 0;
  if (position.o > 0 && position.c !== undefined) {
    const anchor = position.c;
    let found = -1;
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i] as WindowRow;
      if (row.at === anchor && row.key === position.k) {
        found = i;
        break;
      }
    }
    if (found >= 0) {
      start = found + 1;
    } else {
      const first = rows[0];
      const reachesBefore = windowOffset === 0 || (first !== undefined && first.at < anchor);
      if (!reachesBefore && canLookFurther) return { kind: 'look_further_back' };
      // The anchor was removed: resume at its `created` (ties are handed out again, never skipped).
      start = rows.findIndex((r) => !(r.at < anchor));
      if (start < 0) start = rows.length;
    }
  }
  const end = Math.min(rows.length, start + pageSize);
  const take: number[] = [];
  for (let i = start; i < end; i++) take.push(i);
  // The new anchor is the last entry handed out that has a `created`; without one the old anchor stays.
  let anchor: { c: number; k: string } | Record<string, never> =
    position.c !== undefined && position.k !== undefined ? { c: position.c, k: position.k } : {};
  for (let i = end - 1; i >= start; i--) {
    const row = rows[i] as WindowRow;
    if (Number.isFinite(row.at)) {
      anchor = { c: row.at, k: row.key };
      break;
    }
  }
  const next: OptimizelyPosition = { s: position.s, o: windowOffset + end, ...anchor };
  const done = rows.length < requested && end >= rows.length;
  return { kind: 'ok', take, next, done };
}

/**
 * Reads one page from `position`: a window starting a little before the offset, read further back
 * (×4, within the `limit` < 10000 rule) until the anchor is placed. `fetchWindow(offset, limit)`
 * answers the list's entries in `created` order.
 */
export async function pageWindow<E>(
  fetchWindow: (offset: number, limit: number) => Promise<readonly E[]>,
  toRow: (element: E) => WindowRow,
  position: OptimizelyPosition,
  pageSize: number,
): Promise<{ elements: E[]; next: OptimizelyPosition; done: boolean }> {
  const maxLookBehind = position.c === undefined ? 0 : Math.min(position.o, MAX_LIST_LIMIT - pageSize);
  let lookBehind = Math.min(INITIAL_LOOK_BEHIND, maxLookBehind);
  for (;;) {
    const windowOffset = position.o - lookBehind;
    const requested = pageSize + lookBehind;
    const elements = await fetchWindow(windowOffset, requested);
    const rows = elements.map(toRow);
    const result = consumeWindow(
      rows,
      windowOffset,
      requested,
      position,
      pageSize,
      lookBehind < maxLookBehind,
    );
    if (result.kind === 'look_further_back') {
      lookBehind = Math.min(maxLookBehind, Math.max(1, lookBehind) * 4);
      continue;
    }
    return { elements: result.take.map((i) => elements[i] as E), next: result.next, done: result.done };
  }
}

/** A blocklist pattern that names exactly one address: wildcards unescaped (§1.2), else undefined. */
export function blocklistAddress(pattern: string): string | undefined {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    const next = pattern[i + 1];
    if (ch === '\\' && (next === '*' || next === '?' || next === '\\')) {
      out += next;
      i++;
    } else if (ch === '*' || ch === '?') {
      return undefined;
    } else {
      out += ch;
    }
  }
  const address = out.trim();
  return /^[^\s@]+@[^\s@]+$/.test(address) ? address : undefined;
}

type IdentitySettings = Pick<OptimizelyCampaignSettings, 'recipientId'>;

/** `RestUnsubscribe` `{recipientId, reason, created, mediaType, …}` → a suppression, or undefined. */
export function mapUnsubscribe(
  element: unknown,
  channel: Channel,
  settings: IdentitySettings,
): RemoteSuppression | undefined {
  if (!isRecord(element)) return undefined;
  const recipientId = stringField(element, 'recipientId');
  const at = toIsoUtc(element['created']);
  if (!recipientId || !at) return undefined;
  return {
    identity: settings.recipientId === 'email' ? { email: recipientId } : { externalId: recipientId },
    channel,
    state: 'opted_out',
    at,
    type: stringField(element, 'reason') ?? 'unsubscribe',
    // A re-subscribe removes the entry (DELETE /unsubscribes, §1.2), a new unsubscribe makes a new
    // one: an entry is held now, unchanged since it was created.
    lastChangedAt: at,
  };
}

/** Blocklist entry `{pattern, reason, created, modified}` → an email suppression, or undefined for wildcards. */
export function mapBlacklistEntry(element: unknown): RemoteSuppression | undefined {
  if (!isRecord(element)) return undefined;
  const pattern = stringField(element, 'pattern');
  const email = pattern === undefined ? undefined : blocklistAddress(pattern);
  const at = toIsoUtc(element['created']) ?? toIsoUtc(element['modified']);
  if (!email || !at) return undefined;
  return { identity: { email }, channel: 'email', state: 'opted_out', at, type: 'blocklist' };
}

function rowOf(source: OptimizelySource, element: unknown): WindowRow {
  if (!isRecord(element)) return { at: Number.NaN, key: '' };
  const created = toIsoUtc(element['created']);
  const at = created === undefined ? Number.NaN : Date.parse(created);
  const key =
    source.kind === 'blacklist'
      ? String(element['pattern'] ?? '')
      : `${String(element['recipientId'] ?? '')}|${String(element['recipientListId'] ?? '')}`;
  return { at, key };
}

/** What every read-back request shares: the kit (REST Basic auth), the REST base path and the recipient list. */
interface ReadBackClient {
  settings: OptimizelyCampaignSettings;
  kit: AdapterKit;
  /** `/rest/<clientId>`. */
  base: string;
  listParam: Record<string, string>;
}

async function fetchWindow(
  { kit, base, listParam }: ReadBackClient,
  source: OptimizelySource,
  offset: number,
  limit: number,
  signal?: AbortSignal,
): Promise<unknown[]> {
  const [operation, path, params] =
    source.kind === 'blacklist'
      ? ['readback-blacklist', `${base}/blacklistentries`, {}]
      : ['readback-unsubscribes', `${base}/unsubscribes`, { mediaType: source.mediaType, ...listParam }];
  const res = await kit.call(operation, signal, () =>
    kit.http.get(path, {
      params: { ...params, offset, limit, sort: 'created', direction: 'ASC' },
      signal,
    }),
  );
  const elements = isRecord(res.data) ? res.data['elements'] : undefined;
  if (!Array.isArray(elements)) throw unexpectedResponse('optimizely-campaign', operation);
  return elements;
}

async function readSource(
  client: ReadBackClient,
  source: OptimizelySource,
  position: OptimizelyPosition,
  pageSize: number,
  signal?: AbortSignal,
): Promise<{ items: RemoteSuppression[]; next: OptimizelyPosition; done: boolean }> {
  const { elements, next, done } = await pageWindow(
    (offset, limit) => fetchWindow(client, source, offset, limit, signal),
    (e) => rowOf(source, e),
    position,
    pageSize,
  );
  const items: RemoteSuppression[] = [];
  for (const element of elements) {
    const item =
      source.kind === 'blacklist'
        ? mapBlacklistEntry(element)
        : mapUnsubscribe(element, source.channel, client.settings);
    if (item) items.push(item);
  }
  if (items.length < elements.length) {
    client.kit.logger.debug(
      { source: sourceKey(source), unnamed: elements.length - items.length },
      'optimizely read-back left out entries that name no single recipient (wildcards, no created)',
    );
  }
  return { items, next, done };
}

/** One page of the sweep over every source (unsubscribe lists, then the blocklist), and the cursor after it. */
async function listPage(
  client: ReadBackClient,
  sources: readonly OptimizelySource[],
  cursor: string | undefined,
  pageSize: number,
  signal?: AbortSignal,
): Promise<ReadBackPage> {
  const size = clampPageSize(pageSize, MAX_PAGE_SIZE);
  let position: OptimizelyPosition = { s: sourceKey(sources[0] as OptimizelySource), o: 0 };
  if (cursor !== undefined) position = decodeCursor('optimizely-campaign', cursor, parsePosition);
  let index = sources.findIndex((s) => sourceKey(s) === position.s);
  if (index < 0) {
    throw new EspError(
      'optimizely-campaign',
      'permanent',
      `optimizely-campaign: read-back cursor names source "${position.s}", which this configuration does not read; start a new sweep`,
    );
  }
  // Sources that turn out empty are passed over in the same call, so a page is rarely empty.
  for (;;) {
    const source = sources[index] as OptimizelySource;
    const { items, next, done } = await readSource(client, source, position, size, signal);
    const following = sources[index + 1];
    if (!done) return { items, nextCursor: encodeCursor('optimizely-campaign', next) };
    if (following === undefined) return { items, nextCursor: undefined };
    position = { s: sourceKey(following), o: 0 };
    index++;
    if (items.length > 0) return { items, nextCursor: encodeCursor('optimizely-campaign', position) };
  }
}

/** Recipient ids of `ids` that have an entry in the unsubscribe list of `mediaType`. */
async function unsubscribedAmong(
  { kit, base, listParam }: ReadBackClient,
  ids: readonly string[],
  mediaType: string,
  signal?: AbortSignal,
): Promise<Set<string>> {
  const held = new Set<string>();
  for (let i = 0; i < ids.length; i += CHECK_CHUNK) {
    const chunk = ids.slice(i, i + CHECK_CHUNK);
    const res = await kit.call('readback-check-unsubscribes', signal, () =>
      kit.http.get(`${base}/unsubscribes`, {
        params: { recipientIds: chunk.join(','), mediaType, ...listParam, offset: 0, limit: MAX_LIST_LIMIT },
        signal,
      }),
    );
    const elements = isRecord(res.data) ? res.data['elements'] : undefined;
    if (!Array.isArray(elements)) throw unexpectedResponse('optimizely-campaign', 'GET /unsubscribes?recipientIds');
    for (const e of elements) {
      const id = isRecord(e) ? stringField(e, 'recipientId') : undefined;
      if (id) held.add(id);
    }
  }
  return held;
}

async function blocklisted({ kit, base }: ReadBackClient, address: string, signal?: AbortSignal): Promise<boolean> {
  const res = await kit.call('readback-check-blacklist', signal, () =>
    kit.http.get(`${base}/blacklistentries/blacklisted`, { params: { address }, signal }),
  );
  if (!isRecord(res.data) || typeof res.data['blacklisted'] !== 'boolean')
    throw unexpectedResponse('optimizely-campaign', 'GET /blacklistentries/blacklisted');
  return res.data['blacklisted'];
}

/** Of the contacts we believe opted out, those Optimizely holds no opt-out for, per channel. */
async function checkOptOuts(
  client: ReadBackClient,
  checks: readonly OptOutCheck[],
  signal?: AbortSignal,
): Promise<RemoteSuppression[]> {
  const { settings } = client;
  const at = new Date().toISOString();
  const idOf = (c: OptOutCheck) => (settings.recipientId === 'email' ? c.identity.email : c.identity.externalId);
  const out: RemoteSuppression[] = [];
  for (const channel of ['email', 'sms', 'push'] as const) {
    const asked = checks.filter((c) => c.channels.includes(channel) && idOf(c) !== undefined);
    if (asked.length === 0) continue;
    const ids = asked.map((c) => idOf(c) as string);
    let held: Set<string>;
    if (channel === 'email' && settings.optOutAction === 'blacklist') {
      held = new Set();
      for (const c of asked)
        if (c.identity.email && (await blocklisted(client, c.identity.email, signal))) held.add(idOf(c) as string);
    } else {
      const mediaType = settings.mediaTypes[channel];
      if (!mediaType) continue;
      // An email opt-out may be held as GLOBAL (mail links, the HTTP API) as well as EMAIL.
      held = await unsubscribedAmong(client, ids, mediaType, signal);
      if (channel === GLOBAL_CHANNEL && mediaType !== GLOBAL)
        for (const id of await unsubscribedAmong(client, ids, GLOBAL, signal)) held.add(id);
    }
    for (const c of asked) {
      if (held.has(idOf(c) as string)) continue;
      // No entry carries no moment: the read time stands for it, never a reason to ingest anything.
      out.push({ identity: c.identity, channel, state: 'opted_in', at, type: 'not_unsubscribed' });
    }
  }
  return out;
}

export function createOptimizelyCampaignReadBack(
  settings: OptimizelyCampaignSettings,
  logger: Logger,
): EspReadBack {
  const rest = settings.credentials.rest;
  if (!rest) {
    return {
      kind: 'none',
      reason:
        'Optimizely Campaign read-back needs the REST API (OPTIMIZELY_CLIENT_ID, OPTIMIZELY_API_USER, OPTIMIZELY_API_PASSWORD); the HTTP API cannot read (esp-contracts.md §1.1)',
    };
  }
  const kit = createAdapterKit(settings, logger.child({ readback: true }), {
    headers: { Authorization: basicAuth(rest.apiUser, rest.apiPassword) },
  });
  const client: ReadBackClient = {
    settings,
    kit,
    base: `/rest/${encodeURIComponent(rest.clientId)}`,
    listParam: settings.recipientListId ? { recipientListId: settings.recipientListId } : {},
  };
  const sources = readBackSources(settings);
  return {
    kind: 'list',
    checkOptOuts: (checks, signal) => checkOptOuts(client, checks, signal),
    listPage: (cursor, pageSize, signal) => listPage(client, sources, cursor, pageSize, signal),
  };
}
