/**
 * Optimizely Campaign REST API (Basic auth), esp-contracts.md §1.2, under `/rest/{clientId}`:
 *   GET    /unsubscribes[?offset&limit&recipientIds&mediaType&sort&direction&recipientListId]   paged read-back
 *   GET    /unsubscribes/count[?mediaType]
 *   POST   /unsubscribes            form recipientIds | mailIds, mediaType, recipientListId (≤ 5000)
 *   DELETE /unsubscribes?recipientIds&mediaType&recipientListId                            re-subscribe
 *   POST   /recipients/trackingoptout (form recipientId); DELETE /recipients/trackingoptout?recipientId  (406 if off)
 * plus the blocklist (optimizely-campaign.rest-blocklist.ts) and recipients / webhooks
 * (optimizely-campaign.rest-recipients.ts).
 */
import { empty, fail } from '../../../simulators/core/reply.js';
import type { Router } from '../../../simulators/core/router.js';
import type { RouteHandler, SimRequest } from '../../../simulators/core/types.js';
import { listParam } from '../../../simulators/core/util.js';
import { registerBlocklistRoutes } from './optimizely-campaign.rest-blocklist.js';
import {
  mediaParam,
  num,
  out,
  page,
  REST_BASE,
  type RestApiDeps,
  restAuth,
  sortBy,
} from './optimizely-campaign.rest-common.js';
import { registerRecipientRoutes } from './optimizely-campaign.rest-recipients.js';
import type { UnsubscribeEntry } from './optimizely-campaign.state.js';

export type { RestApiDeps } from './optimizely-campaign.rest-common.js';

const unsubscribeJson = (e: UnsubscribeEntry) => ({
  recipientListId: num(e.recipientListId),
  recipientId: e.recipientId,
  mailingId: num(e.mailingId),
  reason: e.reason,
  created: e.created.toISOString(),
  mediaType: e.mediaType,
  links: [],
});

/** The recipient list an unsubscribe is scoped to: null unless unsubscribes are list-based. */
const listScopeOf =
  ({ opts, creds }: RestApiDeps) =>
  (req: SimRequest, source: URLSearchParams = req.query): string | null =>
    opts.recipientListBasedUnsubscribes ? (source.get('recipientListId') ?? creds.recipientListId) : null;

/** `GET /unsubscribes`: the paged read-back, filtered by media type, recipient ids and list. */
function readUnsubscribes({ state, opts }: RestApiDeps): RouteHandler {
  return (req) => {
    const media = mediaParam(req.query.get('mediaType'), opts.unsubscribesDefaultMediaType);
    const ids = new Set(listParam(req.query, 'recipientIds'));
    const listId = opts.recipientListBasedUnsubscribes ? req.query.get('recipientListId') : null;
    const matching = state.unsubscribes.filter(
      (e) =>
        (media === 'ALL' || e.mediaType === media) &&
        (ids.size === 0 || ids.has(e.recipientId)) &&
        (listId === null || e.recipientListId === listId),
    );
    const sorted = sortBy(req, matching, {
      id: (e) => e.id,
      reason: (e) => e.reason,
      recipientListId: (e) => e.recipientListId ?? '',
      mailingId: (e) => e.mailingId ?? '',
      created: (e) => e.created.getTime(),
    });
    const p = page(req, sorted, opts.maxListLimit);
    // INFERENCE: `count` is the number of elements in this page (a streaming collection); page until count < limit.
    return out(req, 200, {
      elements: p.elements.map(unsubscribeJson),
      count: p.elements.length,
      offset: p.offset,
      limit: p.limit,
    });
  };
}

/** `POST /unsubscribes`: up to maxBulkUnsubscribes recipient ids or mail ids; successful and unsuccessful ids. */
function addUnsubscribes(deps: RestApiDeps): RouteHandler {
  const { state, opts } = deps;
  const listScope = listScopeOf(deps);
  return (req) => {
    const form = req.form();
    const recipientIds = listParam(form, 'recipientIds');
    const mailIds = listParam(form, 'mailIds');
    const media = mediaParam(form.get('mediaType'), 'GLOBAL');
    if (media === 'ALL') fail(400, { error: 'invalid mediaType' });
    if (recipientIds.length === 0 && mailIds.length === 0)
      fail(400, { error: 'recipientIds or mailIds required' });
    if (recipientIds.length + mailIds.length > opts.maxBulkUnsubscribes) {
      fail(400, { error: `Ensure that you did not exceed the limit of ${opts.maxBulkUnsubscribes} IDs.` });
    }
    const successfulIds: string[] = [];
    const unsuccessfulIds: string[] = [];
    const unsubscribe = (recipientId: string, mailingId: string | null): void => {
      const { entry, created } = state.addUnsubscribe({
        recipientId,
        recipientListId: listScope(req, form),
        mailingId,
        reason: 'rest-api',
        created: deps.now(),
        mediaType: media,
        origin: 'rest-api',
      });
      if (created) deps.onUnsubscribe(entry);
    };
    for (const id of recipientIds) {
      unsubscribe(id, null);
      successfulIds.push(id);
    }
    for (const mailId of mailIds) {
      const mail = opts.mailIds[mailId];
      if (!mail) unsuccessfulIds.push(mailId);
      else {
        unsubscribe(mail.recipientId, mail.mailingId ?? null);
        successfulIds.push(mailId);
      }
    }
    // INFERENCE: 200 needs "at least one recipient" unsubscribed; none → 400.
    if (successfulIds.length === 0)
      fail(400, { error: 'The recipients could not be unsubscribed.', unsuccessfulIds });
    return out(req, 200, { successfulIds, unsuccessfulIds });
  };
}

/** `POST|DELETE /recipients/trackingoptout` (406 while the client has the tracking opt-out off). */
function registerTrackingOptOutRoutes(router: Router, deps: RestApiDeps): void {
  const { state, opts, creds } = deps;
  const base = REST_BASE;
  const authed = restAuth(creds);
  const trackingGuard = (): void => {
    if (!opts.trackingOptOutEnabled)
      fail(406, { error: 'The tracking opt-out is not activated for this client.' });
  };
  router.post(
    `${base}/recipients/trackingoptout`,
    authed((req) => {
      trackingGuard();
      const recipientId = req.form().get('recipientId');
      if (!recipientId) fail(400, { error: 'recipientId required' });
      state.trackingOptOuts.set(recipientId, deps.now());
      return empty(201);
    }),
  );
  router.delete(
    `${base}/recipients/trackingoptout`,
    authed((req) => {
      trackingGuard();
      const recipientId = req.query.get('recipientId');
      if (!recipientId) fail(400, { error: 'recipientId required' });
      state.trackingOptOuts.delete(recipientId);
      state.touch(recipientId, 'tracking');
      return empty(204);
    }),
  );
}

export function registerRestApi(router: Router, deps: RestApiDeps): void {
  const { state, creds } = deps;
  const base = REST_BASE;
  const authed = restAuth(creds);
  const listScope = listScopeOf(deps);

  router.get(
    `${base}/unsubscribes/count`,
    authed((req) => {
      const media = mediaParam(req.query.get('mediaType'), 'ALL');
      const entries = state.unsubscribes.filter((e) => media === 'ALL' || e.mediaType === media);
      return out(req, 200, { count: new Set(entries.map((e) => e.recipientId)).size, links: [] });
    }),
  );

  router.get(`${base}/unsubscribes`, authed(readUnsubscribes(deps)));

  router.post(`${base}/unsubscribes`, authed(addUnsubscribes(deps)));

  router.delete(
    `${base}/unsubscribes`,
    authed((req) => {
      const ids = listParam(req.query, 'recipientIds');
      if (ids.length === 0) fail(400, { error: 'recipientIds required' });
      const media = mediaParam(req.query.get('mediaType'), 'GLOBAL');
      if (media === 'ALL') fail(400, { error: 'invalid mediaType' });
      let removed = 0;
      for (const id of ids) removed += state.removeUnsubscribes(id, media, listScope(req));
      if (removed === 0)
        fail(404, { error: 'Unsubscribe could not be found for the indicated recipient ID.' });
      return empty(204);
    }),
  );

  registerTrackingOptOutRoutes(router, deps);
  registerBlocklistRoutes(router, deps);
  registerRecipientRoutes(router, deps);
}
