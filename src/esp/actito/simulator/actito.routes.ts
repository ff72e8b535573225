/**
 * Actito profile routes (V4 shape, esp-contracts.md §3.3), relative to the host root, bearer token required:
 *   POST   /v4/entity/{e}/table/{t}/profile                           upsert on the unique key → 200 {"profileId": N}
 *   GET    /v4/entity/{e}/table/{t}/profile/{profileId | attr=value}  profile JSON (read-back)
 *   DELETE /v4/entity/{e}/table/{t}/profile/{ref}
 *   GET    /v4/entity/{e}/table/{t}/profile/{ref}/subscription        {"subscriptions":[{"name","subscribe"}]}
 *   POST   /v4/entity/{e}/table/{t}/profile/{ref}/subscription/{name} subscribe   (optional body {dataCollectionInformation})
 *   DELETE /v4/entity/{e}/table/{t}/profile/{ref}/subscription/{name} unsubscribe
 * The V5 profile paths are NOT FOUND (§3.3); the simulator serves the documented V4 shape.
 */
import { fail, isRecord, json } from '../../../simulators/core/reply.js';
import type { Router } from '../../../simulators/core/router.js';
import type { RouteHandler, SimRequest } from '../../../simulators/core/types.js';
import type { ResolvedActitoOptions } from './actito.options.js';
import type {
  ActitoProfile,
  ActitoState,
  DataCollectionInformation,
  ProfileChange,
  ProfileInput,
} from './actito.state.js';

export interface ActitoRouteDeps {
  state: ActitoState;
  opts: ResolvedActitoOptions;
  entity: string;
  profileTable: string;
  now(): Date;
  authed(handler: RouteHandler): RouteHandler;
  /** Called after every API change (webhooks). */
  onChange(change: ProfileChange): void;
}

function bad(message: string): never {
  return fail(400, { status: 400, message });
}

function parseDataCollection(value: unknown, opts: ResolvedActitoOptions): DataCollectionInformation | null {
  if (value === undefined || value === null) return null;
  if (!isRecord(value)) return bad('dataCollectionInformation must be an object {source, way, date}');
  const { source, way, date } = value;
  if (typeof source !== 'string' || source === '') bad('dataCollectionInformation.source is required');
  if (typeof way !== 'string' || way === '') bad('dataCollectionInformation.way is required');
  if (opts.allowedWays && !opts.allowedWays.includes(way))
    bad(`dataCollectionInformation.way "${way}" is not allowed`);
  if (typeof date !== 'string') return bad('dataCollectionInformation.date is required');
  if (opts.dataCollectionDatePattern && !opts.dataCollectionDatePattern.test(date)) {
    bad(`dataCollectionInformation.date "${date}" must match yyyy-MM-dd HH:mm:ss`);
  }
  return { source, way, date };
}

function parseSubscriptions(
  value: unknown,
  opts: ResolvedActitoOptions,
): { name: string; subscribe: boolean }[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return bad('subscriptions must be an array');
  return value.map((s) => {
    if (!isRecord(s)) return bad('subscription must be {name, subscribe}');
    const { name, subscribe } = s;
    if (typeof name !== 'string' || typeof subscribe !== 'boolean')
      return bad('subscription must be {name, subscribe: boolean}');
    if (opts.subscriptionNames && !opts.subscriptionNames.includes(name)) bad(`unknown subscription ${name}`);
    return { name, subscribe };
  });
}

export function parseProfileInput(body: unknown, opts: ResolvedActitoOptions): ProfileInput {
  if (!isRecord(body)) return bad('body must be a JSON object');
  const { attributes, subscriptions, segmentations, dataCollectionInformation } = body;
  if (!Array.isArray(attributes)) return bad('attributes must be an array of {name, value}');
  const attrs = attributes.map((a) => {
    if (!isRecord(a)) return bad('attribute must be {name, value}');
    const { name, value } = a;
    if (typeof name !== 'string') return bad('attribute must be {name, value}');
    return { name, value };
  });
  const key = attrs.find((a) => a.name === opts.uniqueKeyAttribute);
  if (!key || key.value === undefined || key.value === null || String(key.value).trim() === '') {
    bad(`the unique key attribute ${opts.uniqueKeyAttribute} is required`);
  }
  for (const a of attrs) {
    if (
      (a.name === 'marketingConsent' || a.name === opts.trackingConsentAttribute) &&
      typeof a.value !== 'boolean'
    ) {
      bad(`${a.name} must be a Boolean`);
    }
  }
  if (segmentations !== undefined && !Array.isArray(segmentations)) bad('segmentations must be an array');
  return {
    attributes: attrs,
    subscriptions: parseSubscriptions(subscriptions, opts),
    segmentations: Array.isArray(segmentations) ? segmentations : [],
    dataCollectionInformation: parseDataCollection(dataCollectionInformation, opts),
  };
}

export function registerProfileRoutes(router: Router, deps: ActitoRouteDeps): void {
  const { state, opts } = deps;
  const base = '/v4/entity/:entity/table/:table/profile';
  const table = (handler: RouteHandler): RouteHandler =>
    deps.authed((req) => {
      if (req.param('entity') !== deps.entity)
        fail(404, { status: 404, message: `entity ${req.param('entity')} not found` });
      if (req.param('table') !== deps.profileTable)
        fail(404, { status: 404, message: `profile table ${req.param('table')} not found` });
      return handler(req);
    });
  const profileOf = (req: SimRequest): ActitoProfile => {
    const ref = req.param('ref');
    const eq = ref.indexOf('=');
    if (eq > 0 && ref.slice(0, eq) !== opts.uniqueKeyAttribute)
      bad(`${ref.slice(0, eq)} is not a unique attribute`);
    const profile = state.find(eq > 0 ? ref.slice(eq + 1) : ref);
    if (!profile) fail(404, { status: 404, message: `profile ${ref} not found` });
    return profile;
  };

  router.post(
    base,
    table((req) => {
      const change = state.upsert(parseProfileInput(req.json(), opts), deps.now());
      deps.onChange(change);
      return json(200, { profileId: change.profile.profileId });
    }),
  );
  router.get(
    `${base}/:ref`,
    table((req) => json(200, state.profileJson(profileOf(req)))),
  );
  router.delete(
    `${base}/:ref`,
    table((req) => {
      const profile = profileOf(req);
      state.remove(profile);
      return json(200, { profileId: profile.profileId });
    }),
  );
  router.get(
    `${base}/:ref/subscription`,
    table((req) => {
      const p = profileOf(req);
      return json(200, {
        subscriptions: [...p.subscriptions].map(([name, subscribe]) => ({ name, subscribe })),
      });
    }),
  );
  const setSubscription = (subscribe: boolean): RouteHandler =>
    table((req) => {
      const profile = profileOf(req);
      const name = req.param('name');
      if (opts.subscriptionNames && !opts.subscriptionNames.includes(name))
        fail(404, { status: 404, message: `subscription ${name} not found` });
      const body = req.rawBody.length > 0 ? req.json() : undefined;
      const { dataCollectionInformation } = isRecord(body) ? body : {};
      const info = parseDataCollection(dataCollectionInformation, opts);
      const now = deps.now();
      if (state.setSubscription(profile, name, subscribe, info, now)) {
        deps.onChange({ profile, created: false, attributes: [], subscriptions: [{ name, subscribe }] });
      }
      return json(200, { profileId: profile.profileId });
    });
  router.post(`${base}/:ref/subscription/:name`, setSubscription(true));
  router.delete(`${base}/:ref/subscription/:name`, setSubscription(false));
}
