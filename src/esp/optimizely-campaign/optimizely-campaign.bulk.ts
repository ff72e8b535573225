import { chunk } from '../../lib/chunk.js';
import { deadLetterOrThrow } from '../kit/adapter-kit.js';
import { ALREADY_IN_STATE, deadLetter, PUSHED } from '../kit/outcome.js';
import type { PushOutcome } from '../types.js';
import type { OptimizelyClient } from './optimizely-campaign.client.js';
import { unsubscribedIds, unsuccessfulIds } from './optimizely-campaign.mapping.js';
import type { OptimizelyOp } from './optimizely-campaign.plan.js';

/**
 * Optimizely Campaign's bulk REST requests (esp-contracts.md §1.2): opt-outs per media type and ≤ 5000
 * ids, re-subscribes per media type and OPTIMIZELY_RESUBSCRIBE_CHUNK ids (read first, then remove
 * only the listed ids), blocklist removals per ≤ 1000 patterns. Why each is shaped so: the adapter's
 * comment (optimizely-campaign.adapter.ts).
 */

/** DOC esp-contracts.md §1.2: `POST /unsubscribes` takes at most 5000 recipient ids. */
const BULK_UNSUBSCRIBE_MAX = 5_000;
/** DOC §1.2 (OpenAPI): `DELETE /blacklistentries?entries=` takes at most 1000 patterns (more → 400). */
const BULK_UNBLACKLIST_MAX = 1_000;
/** DOC §1.2 (OpenAPI): `GET /unsubscribes` limit must be below 10000. */
const READ_LIMIT_MAX = 9_999;

export type BulkOp = Extract<OptimizelyOp, { api: 'rest'; type: 'unsubscribe' | 'resubscribe' }>;
export type UnblacklistOp = Extract<OptimizelyOp, { api: 'rest'; type: 'unblacklist' }>;
export interface Owned<T> {
  contactId: string;
  op: T;
}
/** An operation's outcome, for the contact and channel it wrote. */
export interface Result {
  contactId: string;
  channel: string;
  op: PushOutcome;
}

async function unsubscribeChunk(
  client: OptimizelyClient,
  mediaType: string,
  chunk: Owned<BulkOp>[],
  out: Result[],
  signal?: AbortSignal,
) {
  const { kit, restBase, restHeaders, listParam } = client;
  const ids = [...new Set(chunk.map((c) => c.op.recipientId))];
  const body = new URLSearchParams({ recipientIds: ids.join(','), mediaType, ...listParam });
  try {
    const res = await kit.call('unsubscribe-bulk', signal, () =>
      kit.http.post(`${restBase}/unsubscribes`, body, { headers: restHeaders, signal }),
    );
    const failed = unsuccessfulIds(res.data);
    for (const c of chunk) {
      const rejected = failed.has(c.op.recipientId.toLowerCase());
      out.push({
        contactId: c.contactId,
        channel: c.op.channel,
        op: rejected
          ? deadLetter(`Optimizely listed the recipient as unsuccessful (${mediaType} unsubscribe)`)
          : PUSHED,
      });
    }
  } catch (err) {
    const outcome = deadLetterOrThrow(err);
    for (const c of chunk) out.push({ contactId: c.contactId, channel: c.op.channel, op: outcome });
  }
}

/** The ids of `ids` that are on the unsubscribe list of `mediaType` (lower-cased), paging past the limit. */
async function onUnsubscribeList(
  client: OptimizelyClient,
  mediaType: string,
  ids: readonly string[],
  signal?: AbortSignal,
) {
  const { kit, restBase, restHeaders, listParam } = client;
  const found = new Set<string>();
  const limit = Math.min(READ_LIMIT_MAX, Math.max(100, ids.length));
  for (let offset = 0; ; offset += limit) {
    const params = { recipientIds: ids.join(','), mediaType, offset, limit, ...listParam };
    const res = await kit.call('resubscribe-read', signal, () =>
      kit.http.get(`${restBase}/unsubscribes`, { headers: restHeaders, params, signal }),
    );
    const page = unsubscribedIds(res.data);
    for (const id of page.ids) found.add(id);
    if (page.elements < limit) return found;
  }
}

async function resubscribeChunk(
  client: OptimizelyClient,
  mediaType: string,
  chunk: Owned<BulkOp>[],
  out: Result[],
  signal?: AbortSignal,
) {
  let present: Set<string>;
  try {
    present = await onUnsubscribeList(
      client,
      mediaType,
      [...new Set(chunk.map((c) => c.op.recipientId))],
      signal,
    );
  } catch (err) {
    const outcome = deadLetterOrThrow(err);
    for (const c of chunk) out.push({ contactId: c.contactId, channel: c.op.channel, op: outcome });
    return;
  }
  const listed = chunk.filter((c) => present.has(c.op.recipientId.toLowerCase()));
  for (const c of chunk)
    if (!listed.includes(c))
      out.push({ contactId: c.contactId, channel: c.op.channel, op: ALREADY_IN_STATE });
  if (listed.length > 0) await removeUnsubscribes(client, mediaType, listed, out, signal);
}

async function removeUnsubscribes(
  client: OptimizelyClient,
  mediaType: string,
  chunk: Owned<BulkOp>[],
  out: Result[],
  signal?: AbortSignal,
) {
  const { kit, restBase, restHeaders, listParam } = client;
  const ids = [...new Set(chunk.map((c) => c.op.recipientId))];
  const params = { recipientIds: ids.join(','), mediaType, ...listParam };
  const outcome = await client.restCall(
    'resubscribe',
    signal,
    () => kit.http.delete(`${restBase}/unsubscribes`, { headers: restHeaders, params, signal }),
    { 404: ALREADY_IN_STATE },
  );
  // A 404 for several ids does not say which was missing: ask again one by one.
  if (outcome === ALREADY_IN_STATE && ids.length > 1) {
    for (const c of chunk) await removeUnsubscribes(client, mediaType, [c], out, signal);
    return;
  }
  for (const c of chunk) out.push({ contactId: c.contactId, channel: c.op.channel, op: outcome });
}

async function unblacklistChunk(
  client: OptimizelyClient,
  chunk: Owned<UnblacklistOp>[],
  out: Result[],
  signal?: AbortSignal,
) {
  const { kit, restBase, restHeaders } = client;
  const entries = [...new Set(chunk.map((c) => c.op.entry))];
  const params = new URLSearchParams(entries.map((e): [string, string] => ['entries', e]));
  const outcome = await client.restCall('blacklist-remove', signal, () =>
    kit.http.delete(`${restBase}/blacklistentries`, { headers: restHeaders, params, signal }),
  );
  for (const c of chunk) out.push({ contactId: c.contactId, channel: c.op.channel, op: outcome });
}

/** Runs the bulk operations of one push(), grouped by type and media type, one chunk at a time. */
export async function runBulk(
  client: OptimizelyClient,
  ops: Owned<BulkOp>[],
  unblacklists: Owned<UnblacklistOp>[],
  out: Result[],
  signal?: AbortSignal,
) {
  const groups = new Map<string, Owned<BulkOp>[]>();
  for (const o of ops) {
    const key = `${o.op.type} ${o.op.mediaType}`;
    groups.set(key, [...(groups.get(key) ?? []), o]);
  }
  for (const group of groups.values()) {
    const { type, mediaType } = (group[0] as Owned<BulkOp>).op;
    const size = type === 'unsubscribe' ? BULK_UNSUBSCRIBE_MAX : client.settings.resubscribeChunk;
    for (const slice of chunk(group, size)) {
      if (type === 'unsubscribe') await unsubscribeChunk(client, mediaType, slice, out, signal);
      else await resubscribeChunk(client, mediaType, slice, out, signal);
    }
  }
  for (const slice of chunk(unblacklists, BULK_UNBLACKLIST_MAX))
    await unblacklistChunk(client, slice, out, signal);
}
