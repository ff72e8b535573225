/**
 * CrossEngage user management routes (esp-contracts.md §2.1, §2.3):
 *   PUT|GET /users/{externalId}/optout-status[?channelType]   v1; unknown user → 404
 *   GET     /users/{externalId}/recipient-status               v1
 *   PUT|GET /users/{externalId}/blacklist-status               v1
 *   PUT     /users                                             v2 → 202 {trackingId} (v1: 200, INFERENCE)
 *   PUT     /users/{id}                                        v1 create or update → 200 {id, xngId, email,
 *                                                              businessUnit, success}; 400 / 409 with errors [{field, type}]
 *   POST    /users/batch {updated, deleted}                    ≤ 1000; v2 → 202 {trackingId, errors?}; v1 → 200, or 400
 *                                                              when an item failed (items with errors [{field, type}])
 *   GET     /users/track/{trackingId}                          {stage,total,success,error}; 404 after 24 h
 *   GET     /users/{id}, GET /users/email/{email}/bu/{bu}, DELETE /users/{id} (v1 204, v2 202; always)
 *   POST    /leads {updated:[{email, businessUnit, ...}]}      v1 → 200 {updated:[{id?, xngId, success}], deleted:[]},
 *                                                              400 when an item failed (errors [{field, type}])
 * Sources: the v1 and v2 blueprints (esp-contracts.md §2.3). A user created or updated with the email (and
 * businessUnit) of a lead absorbs the lead: the v1 blueprint's "CrossEngage automatically merges the profiles
 * when there is a match"; which opt-outs survive the merge is NOT FOUND, INFERENCE: the lead's are kept (a merge
 * that dropped them would lose a person's objection).
 */
import { randomUUID } from 'node:crypto';
import { empty, fail, isRecord, json, notSimulated } from '../../../simulators/core/reply.js';
import type { Router } from '../../../simulators/core/router.js';
import type { RouteHandler, SimRequest } from '../../../simulators/core/types.js';
import { type CeDeps, guarded, objectBody, optionalString, v1Fail, v2Fail } from './crossengage.common.js';
import { type ChannelType, type CeProfile, isChannelType } from './crossengage.state.js';

function channelParam(req: SimRequest): ChannelType | null {
  const value = req.query.get('channelType');
  if (value === null || value === '') return null;
  if (!isChannelType(value)) v1Fail(400, 'channelType', 'UNKNOWN_VALUE');
  return value;
}

function knownUser(deps: CeDeps, id: string): CeProfile {
  const user = deps.state.users.get(id);
  if (!user) fail(404, { message: `User ${id} does not exist` });
  return user;
}

function arrayField(body: Record<string, unknown>, name: string): unknown[] {
  const value = body[name];
  return Array.isArray(value) ? value : [];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** A v1 per-item error (blueprint: `{"field": "email", "type": "WRONG_FORMAT"}`). */
interface V1ItemError {
  field: string;
  type: string;
}

/** The v1 error of a v2 validation result (v2 codes §2.4 → the v1 blueprint's types). */
function v1ItemError(error: { code: number; pointer: string }): V1ItemError {
  const field = error.pointer.split('/').at(-1) || 'body';
  if (error.code === 4) return { field, type: 'WRONG_FORMAT' };
  return { field, type: 'NOT_NULL' };
}

/** The v1 answer for one user: `{id, xngId, email, businessUnit, success}` (v1 blueprint). */
function v1UserResult(deps: CeDeps, user: CeProfile): Record<string, unknown> {
  return { id: user.id, xngId: deps.state.xngIdOf(user), email: user.email, businessUnit: user.businessUnit, success: true };
}

/** Validate one v2 user (`id` and `email` required, §2.3); returns an error or applies it. */
function applyUser(
  deps: CeDeps,
  raw: unknown,
  pointer: string,
): { code: number; title: string; pointer: string } | CeProfile {
  if (!isRecord(raw)) return { code: 2, title: 'invalid or missing field', pointer };
  const { id: rawId, email: rawEmail, businessUnit, ...traits } = raw;
  const id = optionalString(rawId);
  const email = optionalString(rawEmail);
  if (!id) return { code: 2, title: 'invalid or missing field', pointer: `${pointer}/id` };
  if (!email) return { code: 2, title: 'invalid or missing field', pointer: `${pointer}/email` };
  if (!EMAIL.test(email)) return { code: 4, title: 'invalid email', pointer: `${pointer}/email` };
  return deps.state.upsertUser(
    id,
    { email, businessUnit: optionalString(businessUnit) ?? null, traits },
    deps.now(),
  );
}

function newTracking(deps: CeDeps, total: number, success: number): string {
  const trackingId = randomUUID();
  deps.state.tracking.set(trackingId, {
    stage: 'PROCESSED',
    total,
    success,
    error: total - success,
    createdAt: deps.now(),
  });
  return trackingId;
}

/** `/users/{id}/optout-status`, `/recipient-status` and `/blacklist-status` (v1). */
function registerStatusRoutes(router: Router, deps: CeDeps): void {
  const { state, opts } = deps;

  router.put(
    '/users/:id/optout-status',
    guarded(deps, 'v1', (req, version) => {
      const channel = channelParam(req);
      const { optOut } = objectBody(req, version);
      if (typeof optOut !== 'boolean') v1Fail(400, 'optOut', 'INVALID_VALUE');
      const user = knownUser(deps, req.param('id'));
      state.setOptOut(user, channel, optOut, deps.now());
      return json(200, { optOut });
    }),
  );
  router.get(
    '/users/:id/optout-status',
    guarded(deps, 'v1', (req) => {
      const channel = channelParam(req);
      const user = knownUser(deps, req.param('id'));
      const optOut =
        channel === null
          ? user.optOutAll
          : user.optOutChannels.has(channel) || (opts.channelReadIncludesAll && user.optOutAll);
      return json(200, { optOut });
    }),
  );
  router.get(
    '/users/:id/recipient-status',
    guarded(deps, 'v1', (req) => {
      const user = state.users.get(req.param('id'));
      if (user) return json(200, state.statusJson(user));
      if (opts.unknownUserRecipientStatus === 'not-found')
        fail(404, { message: `User ${req.param('id')} does not exist` });
      return json(200, { blacklisted: false, optOutAll: false, optOutChannels: [] });
    }),
  );
  router.put(
    '/users/:id/blacklist-status',
    guarded(deps, 'v1', (req, version) => {
      const { blacklisted } = objectBody(req, version);
      if (typeof blacklisted !== 'boolean') v1Fail(400, 'blacklisted', 'INVALID_VALUE');
      const user = knownUser(deps, req.param('id'));
      user.blacklisted = blacklisted;
      user.updated = deps.now();
      return json(200, { blacklisted: user.blacklisted });
    }),
  );
  router.get(
    '/users/:id/blacklist-status',
    guarded(deps, 'v1', (req) => json(200, { blacklisted: knownUser(deps, req.param('id')).blacklisted })),
  );
}

/** `POST /users/batch`: up to maxBatchUsers updates and deletions; v1 answers per item, v2 with a trackingId. */
function usersBatch(deps: CeDeps): RouteHandler {
  const { state, opts } = deps;
  return guarded(deps, 'any', (req, version) => {
    const body = objectBody(req, version);
    const updated = arrayField(body, 'updated');
    const deleted = arrayField(body, 'deleted');
    const size = updated.length + deleted.length;
    if (size > opts.maxBatchUsers) {
      v2Fail(
        400,
        9,
        `Max batch request size is ${opts.maxBatchUsers.toLocaleString('en-US')}, but was ${size.toLocaleString('en-US')}`,
      );
    }
    const errors: { code: number; title: string; source: { pointer: string } }[] = [];
    const updatedResults = updated.map((raw, i) => {
      const r = applyUser(deps, raw, `/updated/${i}`);
      if ('kind' in r) return { id: r.id, xngId: state.xngIdOf(r), success: true };
      errors.push({ code: r.code, title: r.title, source: { pointer: r.pointer } });
      return { id: isRecord(raw) ? (raw['id'] ?? null) : null, xngId: null, success: false, errors: [v1ItemError(r)] };
    });
    const deletedResults = deleted.map((raw) => {
      const id = typeof raw === 'string' ? raw : isRecord(raw) ? optionalString(raw['id']) : undefined;
      if (!id) return { id: null, xngId: null, success: false, errors: [{ field: 'id', type: 'NOT_NULL' }] };
      const user = state.users.get(id);
      const xngId = user ? state.xngIdOf(user) : null;
      state.deleteUser(id);
      return { id, xngId, success: true };
    });
    // v1 blueprint: 200 when every item succeeded, 400 with the items' errors otherwise (valid items
    // are still applied: INFERENCE, the blueprint shows no mixed answer).
    if (version === '1') {
      const failed = [...updatedResults, ...deletedResults].some((r) => !r.success);
      return json(failed ? 400 : 200, { updated: updatedResults, deleted: deletedResults });
    }
    const trackingId = newTracking(deps, size, size - errors.length);
    return json(202, errors.length > 0 ? { trackingId, errors } : { trackingId });
  });
}

/** `POST /leads` (v1): leads keyed by email and business unit; 400 with the items' errors when one fails. */
function leadsUpsert(deps: CeDeps): RouteHandler {
  const { state } = deps;
  return guarded(deps, 'v1', (req, version) => {
    const updated = arrayField(objectBody(req, version), 'updated');
    const results = updated.map((raw) => {
      const fail = (error: V1ItemError) => ({ xngId: null, success: false, errors: [error] });
      if (!isRecord(raw)) return fail({ field: 'email', type: 'NOT_NULL' });
      const { email: rawEmail, businessUnit, id, ...traits } = raw;
      const email = optionalString(rawEmail);
      if (!email) return fail({ field: 'email', type: 'NOT_NULL' });
      if (!EMAIL.test(email)) return fail({ field: 'email', type: 'WRONG_FORMAT' });
      const bu = optionalString(businessUnit) ?? null;
      const lead = state.upsertLead(email, bu, traits, deps.now());
      return { ...(optionalString(id) ? { id } : {}), xngId: state.xngIdOf(lead), success: true };
    });
    // v1 blueprint: 200 when every lead was processed, 400 with the items' errors otherwise.
    return json(results.every((r) => r.success) ? 200 : 400, { updated: results, deleted: [] });
  });
}

export function registerUserRoutes(router: Router, deps: CeDeps): void {
  const { state, opts } = deps;

  registerStatusRoutes(router, deps);

  router.get(
    '/users/track/:trackingId',
    guarded(deps, 'any', (req) => {
      const t = state.tracking.get(req.param('trackingId'));
      if (!t || deps.now().getTime() - t.createdAt.getTime() > opts.trackingTtlMs)
        fail(404, { message: 'trackingId not found' });
      return json(200, { stage: t.stage, total: t.total, success: t.success, error: t.error });
    }),
  );
  router.put(
    '/users',
    guarded(deps, 'any', (req, version) => {
      const result = applyUser(deps, objectBody(req, version), '');
      if (!('kind' in result)) v2Fail(400, result.code, result.title, result.pointer);
      if (version === '1') return json(200, state.profileJson(result));
      return json(202, { trackingId: newTracking(deps, 1, 1) });
    }),
  );
  router.post('/users/batch', usersBatch(deps));
  router.get(
    '/users/email/:email/bu/:bu',
    guarded(deps, 'any', (req) => {
      const user = state.userByEmail(req.param('email'), req.param('bu'));
      if (!user) fail(404, { message: 'User not found' });
      return json(200, state.profileJson(user));
    }),
  );
  // Documented (v1 "User Attribute Management") but not simulated; matched before /users/{id}.
  for (const path of ['/users/attributes', '/users/attributes/:id'])
    router.add('*', path, (req) => notSimulated('crossengage', req.method, req.path));
  router.get(
    '/users/:id',
    guarded(deps, 'any', (req) => json(200, state.profileJson(knownUser(deps, req.param('id'))))),
  );
  router.put(
    '/users/:id',
    guarded(deps, 'v1', (req, version) => {
      const id = req.param('id');
      const { id: bodyId, email: rawEmail, businessUnit: rawBu, ...traits } = objectBody(req, version);
      const email = optionalString(rawEmail);
      const businessUnit = optionalString(rawBu) ?? null;
      const refused = (status: number, error: V1ItemError) =>
        json(status, { id, xngId: null, email: email ?? null, businessUnit, success: false, errors: [error] });
      if (bodyId !== undefined && bodyId !== id) return refused(409, { field: 'id', type: 'user_IDS_MISMATCH' });
      if (rawEmail !== undefined && (!email || !EMAIL.test(email))) return refused(400, { field: 'email', type: 'WRONG_VALUE' });
      const user = state.upsertUser(
        id,
        { ...(email ? { email } : {}), ...(rawBu !== undefined ? { businessUnit } : {}), traits },
        deps.now(),
      );
      return json(200, v1UserResult(deps, user));
    }),
  );
  router.delete(
    '/users/:id',
    guarded(deps, 'any', (req, version) => {
      state.deleteUser(req.param('id'));
      // v1 blueprint: 204; v2: 202 (always succeeds).
      return empty(version === '1' ? 204 : 202);
    }),
  );

  router.post('/leads', leadsUpsert(deps));
}
