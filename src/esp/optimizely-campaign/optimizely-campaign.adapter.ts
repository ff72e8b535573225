import type { Logger } from 'pino';
import type { OptimizelyCampaignSettings } from './optimizely-campaign.settings.js';
import type { PacerFactory } from '../kit/concurrency.js';
import { createAdapterKit, deadLetterOrThrow, statusOf } from '../kit/adapter-kit.js';
import { mapWithConcurrency } from '../kit/concurrency.js';
import { basicAuth } from '../kit/http/client.js';
import { EspError } from '../kit/http/errors.js';
import {
  ALREADY_IN_STATE,
  type ChannelResult,
  combineChannels,
  deadLetter,
  notApplicable,
  onChannel,
  PUSHED,
} from '../kit/outcome.js';
import type { ContactSnapshot, EspAdapter, PushOutcome } from '../types.js';
import {
  type HttpOperation,
  parseToken,
  tokenResult,
  unsubscribedIds,
  unsuccessfulIds,
} from './optimizely-campaign.mapping.js';
import { type OptimizelyOp, planOperations } from './optimizely-campaign.plan.js';

/** DOC esp-contracts.md §1.2: `POST /unsubscribes` takes at most 5000 recipient ids. */
const BULK_UNSUBSCRIBE_MAX = 5_000;
/** DOC §1.2 (OpenAPI): `DELETE /blacklistentries?entries=` takes at most 1000 patterns (more → 400). */
const BULK_UNBLACKLIST_MAX = 1_000;
/** DOC §1.2 (OpenAPI): `GET /unsubscribes` limit must be below 10000. */
const READ_LIMIT_MAX = 9_999;

type BulkOp = Extract<OptimizelyOp, { api: 'rest'; type: 'unsubscribe' | 'resubscribe' }>;
type UnblacklistOp = Extract<OptimizelyOp, { api: 'rest'; type: 'unblacklist' }>;
type SingleOp = Exclude<OptimizelyOp, BulkOp | UnblacklistOp>;
interface Owned<T> {
  contactId: string;
  op: T;
}
/** An operation's outcome, for the contact and channel it wrote. */
interface Result {
  contactId: string;
  channel: string;
  op: PushOutcome;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Optimizely Campaign (esp-contracts.md §1): REST (Basic auth) for bulk unsubscribes, re-subscribes,
 * blocklist and tracking opt-out; or the HTTP API form service, whose plain-text tokens decide the
 * outcome. REST statuses with a meaning of their own: 404 on removal = not there (already in
 * state), 406 on tracking = feature off for the client (not applicable).
 *
 * Requests per push() with the REST API (source: the vendor OpenAPI, rest/openapi.json, as harvested
 * in api-evangelist/optimizely openapi/_original/…-rest-api-openapi.json):
 * - opt-outs: one `POST /unsubscribes` per media type and ≤ 5000 ids, `200 {successfulIds,
 *   unsuccessfulIds}` gives each recipient its outcome;
 * - re-subscribes: per media type and OPTIMIZELY_RESUBSCRIBE_CHUNK ids, one `GET /unsubscribes?
 *   recipientIds=` learns who is on the list, then one `DELETE /unsubscribes?recipientIds=` removes
 *   only those (204): absent ids are already_in_state without a request. The DELETE's 404 ("could
 *   not be found for the indicated recipient ID") does not say which of several ids was missing, so
 *   sending only present ids keeps each outcome exact; if one still comes back (a race), each id is
 *   asked again alone;
 * - blocklist removals: one `DELETE /blacklistentries?entries=` per ≤ 1000 patterns; 204 means
 *   "the deletion was initiated" with no per-entry result, so each contact's outcome is `pushed`;
 * - per recipient, because the API has no bulk form: blocklist additions (`POST /blacklistentries`
 *   takes one `entry`) and the tracking opt-out (`POST|DELETE /recipients/trackingoptout` take one
 *   `recipientId`). The HTTP API (§1.1) is one recipient per call throughout.
 */
export function createOptimizelyCampaignAdapter(
  settings: OptimizelyCampaignSettings,
  logger: Logger,
  pacers?: PacerFactory,
): EspAdapter {
  const { rest: restCredentials, formAuthCode } = settings.credentials;
  const kit = createAdapterKit(settings, logger, { secrets: formAuthCode ? [formAuthCode] : [], ...(pacers ? { pacers } : {}) });
  const restBase = `/rest/${encodeURIComponent(restCredentials?.clientId ?? '')}`;
  const restHeaders = restCredentials
    ? { Authorization: basicAuth(restCredentials.apiUser, restCredentials.apiPassword) }
    : {};
  const listParam: Record<string, string> = settings.recipientListId
    ? { recipientListId: settings.recipientListId }
    : {};

  async function httpApi(
    operation: HttpOperation,
    params: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<PushOutcome> {
    const path = `/http/form/${encodeURIComponent(formAuthCode ?? '')}/${operation}`;
    return kit.call(operation, signal, async () => {
      const res =
        settings.httpMethod === 'POST'
          ? await kit.http.post(path, new URLSearchParams(params), { responseType: 'text', signal })
          : await kit.http.get(path, { params, responseType: 'text', signal });
      const result = tokenResult(operation, parseToken(res.data), settings);
      if ('error' in result)
        throw new EspError('optimizely-campaign', result.error.kind, result.error.reason, {
          status: res.status,
        });
      return result.outcome;
    });
  }

  /** A REST call whose listed statuses are outcomes rather than failures. */
  async function restCall(
    operation: string,
    signal: AbortSignal | undefined,
    send: () => Promise<unknown>,
    special: Record<number, PushOutcome> = {},
  ): Promise<PushOutcome> {
    try {
      await kit.call(operation, signal, send, Object.keys(special).map(Number));
      return PUSHED;
    } catch (err) {
      const status = statusOf(err);
      if (status !== undefined && special[status]) return special[status];
      return deadLetterOrThrow(err);
    }
  }

  function single(op: SingleOp, signal?: AbortSignal): Promise<PushOutcome> {
    const cfg = { headers: restHeaders, signal };
    const form = (fields: Record<string, string>) => new URLSearchParams(fields);
    const trackingOff = notApplicable('tracking opt-out is not activated for this Optimizely client (406)');
    if (op.api === 'http') return httpApi(op.operation, op.params, signal).catch(deadLetterOrThrow);
    switch (op.type) {
      case 'blacklist':
        return restCall('blacklist-add', signal, () =>
          kit.http.post(
            `${restBase}/blacklistentries`,
            form({ entry: op.entry, reason: settings.blacklistReason }),
            cfg,
          ),
        );
      case 'tracking-optout':
        return restCall(
          'tracking-optout',
          signal,
          () =>
            kit.http.post(
              `${restBase}/recipients/trackingoptout`,
              form({ recipientId: op.recipientId }),
              cfg,
            ),
          { 406: trackingOff },
        );
      case 'tracking-optin':
        return restCall(
          'tracking-optin',
          signal,
          () =>
            kit.http.delete(`${restBase}/recipients/trackingoptout`, {
              ...cfg,
              params: { recipientId: op.recipientId },
            }),
          { 404: ALREADY_IN_STATE, 406: trackingOff },
        );
    }
  }

  async function unsubscribeChunk(
    mediaType: string,
    chunk: Owned<BulkOp>[],
    out: Result[],
    signal?: AbortSignal,
  ) {
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
  async function onUnsubscribeList(mediaType: string, ids: readonly string[], signal?: AbortSignal) {
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
    mediaType: string,
    chunk: Owned<BulkOp>[],
    out: Result[],
    signal?: AbortSignal,
  ) {
    let present: Set<string>;
    try {
      present = await onUnsubscribeList(mediaType, [...new Set(chunk.map((c) => c.op.recipientId))], signal);
    } catch (err) {
      const outcome = deadLetterOrThrow(err);
      for (const c of chunk) out.push({ contactId: c.contactId, channel: c.op.channel, op: outcome });
      return;
    }
    const listed = chunk.filter((c) => present.has(c.op.recipientId.toLowerCase()));
    for (const c of chunk)
      if (!listed.includes(c)) out.push({ contactId: c.contactId, channel: c.op.channel, op: ALREADY_IN_STATE });
    if (listed.length > 0) await removeUnsubscribes(mediaType, listed, out, signal);
  }

  async function removeUnsubscribes(
    mediaType: string,
    chunk: Owned<BulkOp>[],
    out: Result[],
    signal?: AbortSignal,
  ) {
    const ids = [...new Set(chunk.map((c) => c.op.recipientId))];
    const params = { recipientIds: ids.join(','), mediaType, ...listParam };
    const outcome = await restCall(
      'resubscribe',
      signal,
      () => kit.http.delete(`${restBase}/unsubscribes`, { headers: restHeaders, params, signal }),
      { 404: ALREADY_IN_STATE },
    );
    // A 404 for several ids does not say which was missing: ask again one by one.
    if (outcome === ALREADY_IN_STATE && ids.length > 1) {
      for (const c of chunk) await removeUnsubscribes(mediaType, [c], out, signal);
      return;
    }
    for (const c of chunk) out.push({ contactId: c.contactId, channel: c.op.channel, op: outcome });
  }

  async function unblacklistChunk(
    chunk: Owned<UnblacklistOp>[],
    out: Result[],
    signal?: AbortSignal,
  ) {
    const entries = [...new Set(chunk.map((c) => c.op.entry))];
    const params = new URLSearchParams(entries.map((e): [string, string] => ['entries', e]));
    const outcome = await restCall('blacklist-remove', signal, () =>
      kit.http.delete(`${restBase}/blacklistentries`, { headers: restHeaders, params, signal }),
    );
    for (const c of chunk) out.push({ contactId: c.contactId, channel: c.op.channel, op: outcome });
  }

  async function runBulk(
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
      const size = type === 'unsubscribe' ? BULK_UNSUBSCRIBE_MAX : settings.resubscribeChunk;
      for (const chunk of chunks(group, size)) {
        if (type === 'unsubscribe') await unsubscribeChunk(mediaType, chunk, out, signal);
        else await resubscribeChunk(mediaType, chunk, out, signal);
      }
    }
    for (const chunk of chunks(unblacklists, BULK_UNBLACKLIST_MAX))
      await unblacklistChunk(chunk, out, signal);
  }

  return {
    name: 'optimizely-campaign',
    maxBatch: settings.maxBatch,
    async push(contacts: readonly ContactSnapshot[], signal?: AbortSignal) {
      const perContact = new Map<string, ChannelResult[]>();
      const bulk: Owned<BulkOp>[] = [];
      const unblacklists: Owned<UnblacklistOp>[] = [];
      const singles: Owned<SingleOp>[] = [];
      for (const contact of contacts) {
        const { ops, skipped } = planOperations(contact, settings);
        perContact.set(contact.contactId, skipped);
        for (const op of ops) {
          const contactId = contact.contactId;
          if (op.api === 'rest' && (op.type === 'unsubscribe' || op.type === 'resubscribe'))
            bulk.push({ contactId, op });
          else if (op.api === 'rest' && op.type === 'unblacklist') unblacklists.push({ contactId, op });
          else singles.push({ contactId, op: op as SingleOp });
        }
      }
      const results: Result[] = [];
      await runBulk(bulk, unblacklists, results, signal);
      const singleResults = await mapWithConcurrency(singles, settings.concurrency, (s) =>
        single(s.op, signal),
      );
      for (const [i, s] of singles.entries()) {
        results.push({ contactId: s.contactId, channel: s.op.channel, op: singleResults[i] as PushOutcome });
      }
      for (const r of results) perContact.get(r.contactId)?.push(onChannel(r.channel, r.op));
      return new Map([...perContact].map(([id, outcomes]) => [id, combineChannels(outcomes)]));
    },
  };
}
