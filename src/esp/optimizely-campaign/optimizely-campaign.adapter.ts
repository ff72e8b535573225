import type { Logger } from 'pino';
import { deadLetterOrThrow } from '../kit/adapter-kit.js';
import type { PacerFactory } from '../kit/concurrency.js';
import { mapWithConcurrency } from '../kit/concurrency.js';
import {
  ALREADY_IN_STATE,
  type ChannelResult,
  combineChannels,
  notApplicable,
  onChannel,
} from '../kit/outcome.js';
import type { ContactSnapshot, EspAdapter, PushOutcome } from '../types.js';
import {
  type BulkOp,
  type Owned,
  type Result,
  runBulk,
  type UnblacklistOp,
} from './optimizely-campaign.bulk.js';
import { createOptimizelyClient, type OptimizelyClient } from './optimizely-campaign.client.js';
import { type OptimizelyOp, planOperations } from './optimizely-campaign.plan.js';
import type { OptimizelyCampaignSettings } from './optimizely-campaign.settings.js';

type SingleOp = Exclude<OptimizelyOp, BulkOp | UnblacklistOp>;

/** One operation the API has no bulk form for (blocklist addition, tracking opt-out/in), or any HTTP API call. */
function single(client: OptimizelyClient, op: SingleOp, signal?: AbortSignal): Promise<PushOutcome> {
  const { kit, restBase, restHeaders, settings } = client;
  const cfg = { headers: restHeaders, signal };
  const form = (fields: Record<string, string>) => new URLSearchParams(fields);
  const trackingOff = notApplicable('tracking opt-out is not activated for this Optimizely client (406)');
  if (op.api === 'http') return client.httpApi(op.operation, op.params, signal).catch(deadLetterOrThrow);
  switch (op.type) {
    case 'blacklist':
      return client.restCall('blacklist-add', signal, () =>
        kit.http.post(
          `${restBase}/blacklistentries`,
          form({ entry: op.entry, reason: settings.blacklistReason }),
          cfg,
        ),
      );
    case 'tracking-optout':
      return client.restCall(
        'tracking-optout',
        signal,
        () =>
          kit.http.post(`${restBase}/recipients/trackingoptout`, form({ recipientId: op.recipientId }), cfg),
        { 406: trackingOff },
      );
    case 'tracking-optin':
      return client.restCall(
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

/** Each contact's planned operations, sorted into bulk REST requests, blocklist removals and single calls. */
function sortOperations(contacts: readonly ContactSnapshot[], settings: OptimizelyCampaignSettings) {
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
  return { perContact, bulk, unblacklists, singles };
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
  const client = createOptimizelyClient(settings, logger, pacers);
  return {
    name: 'optimizely-campaign',
    maxBatch: settings.maxBatch,
    async push(contacts: readonly ContactSnapshot[], signal?: AbortSignal) {
      const { perContact, bulk, unblacklists, singles } = sortOperations(contacts, settings);
      const results: Result[] = [];
      await runBulk(client, bulk, unblacklists, results, signal);
      const singleResults = await mapWithConcurrency(singles, settings.concurrency, (s) =>
        single(client, s.op, signal),
      );
      for (const [i, s] of singles.entries()) {
        results.push({ contactId: s.contactId, channel: s.op.channel, op: singleResults[i] as PushOutcome });
      }
      for (const r of results) perContact.get(r.contactId)?.push(onChannel(r.channel, r.op));
      return new Map([...perContact].map(([id, outcomes]) => [id, combineChannels(outcomes)]));
    },
  };
}
