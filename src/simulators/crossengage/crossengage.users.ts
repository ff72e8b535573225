/**
 * CrossEngage user management routes (esp-contracts.md §2.1, §2.3):
 *   PUT|GET /users/{externalId}/optout-status[?channelType]   v1; unknown user → 404
 *   GET     /users/{externalId}/recipient-status               v1
 *   PUT|GET /users/{externalId}/blacklist-status               v1
 *   PUT     /users                                             v2 → 202 {trackingId} (v1: 200, INFERENCE)
 *   POST    /users/batch {updated, deleted}                    ≤ 1000; v2 → 202 {trackingId, errors?}; v1 → 200
 *   GET     /users/track/{trackingId}                          {stage,total,success,error}; 404 after 24 h
 *   GET     /users/{id}, GET /users/email/{email}/bu/{bu}, DELETE /users/{id} (202, always)
 *   POST    /leads {updated:[{email, businessUnit, ...}]}      v1 (INFERENCE: 200 per-item result)
 */
import { randomUUID } from 'node:crypto';
import { empty, fail, isRecord, json } from '../core/reply.js';
import type { Router } from '../core/router.js';
import type { SimRequest } from '../core/types.js';
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

export function registerUserRoutes(router: Router, deps: CeDeps): void {
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
  router.post(
    '/users/batch',
    guarded(deps, 'any', (req, version) => {
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
        if ('kind' in r) return { id: r.id, success: true };
        errors.push({ code: r.code, title: r.title, source: { pointer: r.pointer } });
        return {
          id: isRecord(raw) ? (raw['id'] ?? null) : null,
          success: false,
          errors: [{ code: r.code, title: r.title }],
        };
      });
      const deletedResults = deleted.map((raw) => {
        const id = typeof raw === 'string' ? raw : isRecord(raw) ? optionalString(raw['id']) : undefined;
        if (id) state.deleteUser(id);
        return { id: id ?? null, success: id !== undefined };
      });
      if (version === '1') return json(200, { updated: updatedResults, deleted: deletedResults });
      const trackingId = newTracking(deps, size, size - errors.length);
      return json(202, errors.length > 0 ? { trackingId, errors } : { trackingId });
    }),
  );
  router.get(
    '/users/email/:email/bu/:bu',
    guarded(deps, 'any', (req) => {
      const user = state.userByEmail(req.param('email'), req.param('bu'));
      if (!user) fail(404, { message: 'User not found' });
      return json(200, state.profileJson(user));
    }),
  );
  router.get(
    '/users/:id',
    guarded(deps, 'any', (req) => json(200, state.profileJson(knownUser(deps, req.param('id'))))),
  );
  router.delete(
    '/users/:id',
    guarded(deps, 'any', (req) => {
      state.deleteUser(req.param('id'));
      return empty(202);
    }),
  );

  const leads = guarded(deps, 'v1', (req, version) => {
    const updated = arrayField(objectBody(req, version), 'updated');
    const results = updated.map((raw) => {
      if (!isRecord(raw)) return { email: null, success: false };
      const { email: rawEmail, businessUnit, ...traits } = raw;
      const email = optionalString(rawEmail);
      if (!email || !EMAIL.test(email)) return { email: email ?? null, success: false };
      const bu = optionalString(businessUnit) ?? null;
      state.upsertLead(email, bu, traits, deps.now());
      return { email, businessUnit: bu, success: true };
    });
    return json(200, { updated: results });
  });
  router.post('/leads', leads);
}
