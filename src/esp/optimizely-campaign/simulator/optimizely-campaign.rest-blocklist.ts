/**
 * Optimizely Campaign REST blocklist (§1.2), shared with the HTTP API `blacklist` / `unblacklist` operations:
 *   GET    /blacklistentries[?offset&limit&pattern&reason&sort&direction], /blacklistentries/count,
 *          /blacklistentries/blacklisted?address, /blacklistentries/{entry}
 *   POST   /blacklistentries        form entry, reason → 201
 *   DELETE /blacklistentries/{entry} (204/404), /blacklistentries?entries (≤ 1000)
 */
import { empty, fail } from '../../../simulators/core/reply.js';
import type { Router } from '../../../simulators/core/router.js';
import type { SimRequest } from '../../../simulators/core/types.js';
import { listParam } from '../../../simulators/core/util.js';
import {
  num,
  out,
  page,
  REST_BASE,
  type RestApiDeps,
  restAuth,
  sortBy,
} from './optimizely-campaign.rest-common.js';
import type { BlacklistEntry } from './optimizely-campaign.state.js';

/** A blocklist entry as the REST API answers it. */
const blacklistJsonOf = (clientId: string) => (e: BlacklistEntry) => ({
  mailingGroupId: num(clientId),
  pattern: e.pattern,
  reason: e.reason,
  created: e.created.toISOString(),
  modified: e.modified.toISOString(),
  links: [],
});

/** The blocklist entries a `GET /blacklistentries` asks for (pattern, reason), in its sort order. */
function sortedBlacklist(state: RestApiDeps['state'], req: SimRequest): BlacklistEntry[] {
  const patterns = new Set(listParam(req.query, 'pattern').map((p) => p.toLowerCase()));
  const reason = req.query.get('reason');
  const items = [...state.blacklist.values()].filter(
    (e) =>
      (patterns.size === 0 || patterns.has(e.pattern.toLowerCase())) &&
      (reason === null || e.reason === reason),
  );
  return sortBy(req, items, {
    pattern: (e) => e.pattern.toLowerCase(),
    reason: (e) => e.reason,
    created: (e) => e.created.getTime(),
    modified: (e) => e.modified.getTime(),
  });
}

export function registerBlocklistRoutes(router: Router, deps: RestApiDeps): void {
  const { state, opts, creds } = deps;
  const base = REST_BASE;
  const authed = restAuth(creds);
  const blacklistJson = blacklistJsonOf(creds.clientId);
  router.get(
    `${base}/blacklistentries/count`,
    authed((req) => out(req, 200, { count: state.blacklist.size, links: [] })),
  );
  router.get(
    `${base}/blacklistentries/blacklisted`,
    authed((req) => {
      const address = req.query.get('address');
      if (!address) fail(400, { error: 'address required' });
      const hit = state.isBlacklisted(address);
      return out(req, 200, hit ? { blacklisted: true, pattern: hit.pattern } : { blacklisted: false });
    }),
  );
  router.get(
    `${base}/blacklistentries`,
    authed((req) => {
      const p = page(req, sortedBlacklist(state, req), opts.maxListLimit);
      return out(req, 200, {
        elements: p.elements.map(blacklistJson),
        count: p.elements.length,
        offset: p.offset,
        limit: p.limit,
      });
    }),
  );
  router.get(
    `${base}/blacklistentries/:entry`,
    authed((req) => {
      const entry = state.blacklist.get(req.param('entry').toLowerCase());
      if (!entry) fail(404, { error: 'The blocklist entry could not be found.' });
      return out(req, 200, blacklistJson(entry));
    }),
  );
  router.post(
    `${base}/blacklistentries`,
    authed((req) => {
      const form = req.form();
      const pattern = form.get('entry');
      if (!pattern) fail(400, { error: 'A required value for the entry is not provided.' });
      const { entry, created } = state.addBlacklist(pattern, form.get('reason') ?? '', deps.now());
      if (!created && opts.restBlacklistDuplicateStatus === 400)
        fail(400, { error: 'The blocklist entry already exists.' });
      return out(req, 201, blacklistJson(entry));
    }),
  );
  router.delete(
    `${base}/blacklistentries/:entry`,
    authed((req) => {
      if (!state.removeBlacklist(req.param('entry')))
        fail(404, { error: 'The blocklist entry could not be found.' });
      return empty(204);
    }),
  );
  router.delete(
    `${base}/blacklistentries`,
    authed((req) => {
      const entries = listParam(req.query, 'entries');
      if (entries.length === 0 || entries.length > opts.maxBlacklistDeletes) {
        fail(400, { error: `Provide 1..${opts.maxBlacklistDeletes} blocklist entries.` });
      }
      for (const e of entries) state.removeBlacklist(e);
      return empty(204);
    }),
  );
}
