/**
 * Ometria simulator (esp-contracts.md §5), base path `/v2`, header `X-Ometria-Auth`:
 *   POST /v2/push            JSON array of ≤ 100 records → 200 {"status":"OK","request_id","accepted","rejected"},
 *                            queued and applied asynchronously; 8 requests/s (then 429); X-QueueSize-* headers
 *   GET  /v2/push/_errors    the last 100 validation errors [{"error_message","error_path"}]
 *   GET  /v2/profiles?email= array of profiles (marketing_optin, timestamps, channels.sms)
 *   GET  /v2/profiles?limit(≤250)&offset&updateSince,  GET /v2/profiles/{id}
 *   GET  /v2/unsubscribes?since&before&type[&limit&offset]   (API-originated unsubscribes are not returned)
 * Data API reads are limited to 4 requests/s. Force / non-force precedence: see ometria.model.ts. No webhooks.
 *
 * Recipient key in `/__sim/state`: the profile's email (lower-cased); `customer:<customer_id>` for a profile
 * without email; else the profile id. Canonical: email ← the profile's marketing_optin, sms ← channels.sms
 * (EXPLICITLY_OPTEDIN → opted_in, EXPLICITLY_OPTEDOUT → opted_out, NOT_SPECIFIED → absent). No tracking consent.
 * ESP detail keys: `profiles`, `listings`, `unsubscribes`, `events` (first subscribe/unsubscribe per channel),
 * `errors`, `queue`.
 *
 * Acted-out unsubscribes: `POST /__sim/unsubscribe {"recipient": <email | customer id | profile id>, "channel":
 * "email"|"sms", "type"}` with type ∈ preferences_centre, app, list_unsubscribe (default for email),
 * link_unsubscribe, stopword_unsubscribe_TF (default for sms), stopword_unsubscribe_DO (aliases: preference_center,
 * app_settings, unsubscribe_link, sms_stop). It acts as a forced opt-out and lands in `/v2/unsubscribes`.
 * Extra control routes: `POST /__sim/flush` (apply queued records now), `POST /__sim/seed {"contacts":[...]}`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { parseOr400 } from '../../../simulators/core/control.js';
import type { SimContext, SimulatorDefinition } from '../../../simulators/core/definition.js';
import { TokenBucket } from '../../../simulators/core/limits.js';
import { fail, json } from '../../../simulators/core/reply.js';
import { Router } from '../../../simulators/core/router.js';
import type { RouteHandler, UnsubscribeInput, UnsubscribeResult } from '../../../simulators/core/types.js';
import { channelOf, eventTime, intParam } from '../../../simulators/core/util.js';
import type { OmetriaSimCredentials } from './ometria.options.js';
import { formatUnsubscribeTime, type OmetriaChannel } from './ometria.model.js';
import { type OmetriaOptions, resolveOmetriaOptions } from './ometria.options.js';
import { applyRecord } from './ometria.records.js';
import { OmetriaState } from './ometria.state.js';

const UNSUBSCRIBE_TYPES: Record<string, OmetriaChannel> = {
  preferences_centre: 'email',
  app: 'email',
  list_unsubscribe: 'email',
  link_unsubscribe: 'email',
  stopword_unsubscribe_TF: 'sms',
  stopword_unsubscribe_DO: 'sms',
};
const TYPE_ALIASES: Record<string, string> = {
  preference_center: 'preferences_centre',
  app_settings: 'app',
  unsubscribe_link: 'link_unsubscribe',
  sms_stop: 'stopword_unsubscribe_TF',
  'SMS stop': 'stopword_unsubscribe_TF',
};

/** `YYYY-MM-DDTHH:MM:SS` (UTC when no zone is given, INFERENCE) → Date; invalid → 400. */
function dateParam(value: string | null, name: string): Date | undefined {
  if (value === null || value === '') return undefined;
  const d = new Date(/[zZ]|[+-]\d{2}:?\d{2}$/.test(value) ? value : `${value}Z`);
  if (Number.isNaN(d.getTime())) fail(400, { status: 'ERROR', message: `invalid ${name}` });
  return d;
}

/** One Ometria simulator's state: the profiles, the rate buckets and the push queue not yet applied. */
interface OmetriaSim {
  opts: ReturnType<typeof resolveOmetriaOptions>;
  creds: OmetriaSimCredentials;
  ctx: SimContext;
  state: OmetriaState;
  pushBucket: TokenBucket;
  dataBucket: TokenBucket;
  queue: unknown[];
  timer: NodeJS.Timeout | undefined;
}

function stopTimer(sim: OmetriaSim): void {
  if (sim.timer) clearTimeout(sim.timer);
  sim.timer = undefined;
}

/** Applies every queued record now. */
function drain(sim: OmetriaSim): void {
  stopTimer(sim);
  const batch = sim.queue;
  sim.queue = [];
  for (const rec of batch) applyRecord(sim.state, sim.opts, rec, sim.ctx.now());
}

function seed(sim: OmetriaSim): void {
  for (const c of sim.opts.contacts) applyRecord(sim.state, sim.opts, { '@type': 'contact', ...c }, sim.ctx.now());
}

const queueHeaders = ({ opts, queue }: OmetriaSim): Record<string, string> => ({
  'x-queuesize-limit': String(opts.queueLimit),
  'x-queuesize-remaining': String(Math.max(0, opts.queueLimit - queue.length)),
});

const tooMany = ({ opts }: OmetriaSim, extra: Record<string, string> = {}): never =>
  fail(
    429,
    { status: 'ERROR', message: 'Too many requests' },
    {
      ...extra,
      ...(opts.retryAfterSeconds !== null ? { 'retry-after': String(opts.retryAfterSeconds) } : {}),
    },
  );

const authed =
  (sim: OmetriaSim, bucket: TokenBucket, handler: RouteHandler): RouteHandler =>
  (req) => {
    if (req.header('x-ometria-auth') !== sim.creds.apiKey)
      fail(sim.opts.authFailureStatus, { status: 'ERROR', message: 'Forbidden' });
    if (!bucket.tryTake()) tooMany(sim);
    return handler(req);
  };

/** `POST /v2/push`: validates the array, queues the records (rejecting malformed ones) and answers the counts. */
function push(sim: OmetriaSim): RouteHandler {
  const { opts, state } = sim;
  return (req) => {
    let body: unknown;
    try {
      body = req.json();
    } catch {
      fail(400, { status: 'ERROR', message: 'Malformed JSON' });
    }
    if (!Array.isArray(body))
      fail(400, { status: 'ERROR', message: 'Payload invalid: body must be a JSON array' });
    if (body.length > opts.maxRecordsPerPush) {
      fail(400, {
        status: 'ERROR',
        message: `Payload invalid: at most ${opts.maxRecordsPerPush} records per request`,
      });
    }
    const types = new Set(
      body
        .map((r) =>
          typeof r === 'object' && r !== null ? (r as Record<string, unknown>)['@type'] : undefined,
        )
        .filter((t) => typeof t === 'string'),
    );
    if (opts.rejectMixedTypes && types.size > 1)
      fail(400, { status: 'ERROR', message: 'Payload invalid: do not mix object types' });
    if (sim.queue.length + body.length > opts.queueLimit) tooMany(sim, queueHeaders(sim));
    let rejected = 0;
    for (const rec of body) {
      const tooLarge = Buffer.byteLength(JSON.stringify(rec) ?? '') > opts.maxRecordBytes;
      if (typeof rec !== 'object' || rec === null || Array.isArray(rec) || tooLarge) {
        rejected++;
        state.addErrors([
          {
            error_message: tooLarge ? 'Payload invalid: Record is too large.' : 'not a valid value',
            error_path: 'root',
          },
        ]);
        continue;
      }
      sim.queue.push(rec);
    }
    // applyDelayMs 0: applied before answering, so tests that read state right after a push are deterministic.
    if (opts.applyDelayMs === 0) drain(sim);
    else sim.timer ??= setTimeout(() => drain(sim), opts.applyDelayMs);
    return json(
      200,
      { status: 'OK', request_id: randomUUID(), accepted: body.length - rejected, rejected },
      queueHeaders(sim),
    );
  };
}

/** `GET /v2/profiles`: by email, or a page (limit, offset, updateSince) in id order. */
function listProfiles({ opts, state }: OmetriaSim): RouteHandler {
  return (req) => {
    const email = req.query.get('email');
    const all = [...state.profiles.values()];
    if (email !== null) {
      const p = state.profiles.get(email.trim().toLowerCase());
      return json(200, p ? [state.profileJson(p)] : []);
    }
    const limit = intParam(req.query.get('limit'), 100);
    const offset = intParam(req.query.get('offset'), 0);
    if (limit === undefined || offset === undefined || limit > opts.maxProfilesLimit) {
      fail(400, { status: 'ERROR', message: `limit must be ≤ ${opts.maxProfilesLimit}` });
    }
    const since = dateParam(req.query.get('updateSince'), 'updateSince');
    const matching = all
      .filter((p) => !since || p.updated >= since)
      .sort((a, b) => Number(a.id) - Number(b.id));
    return json(
      200,
      matching.slice(offset, offset + limit).map((p) => state.profileJson(p)),
    );
  };
}

/** `GET /v2/unsubscribes`: the acted-out unsubscribes in a time range, oldest first. */
function listUnsubscribes({ state }: OmetriaSim): RouteHandler {
  return (req) => {
    const since = dateParam(req.query.get('since'), 'since');
    const before = dateParam(req.query.get('before'), 'before');
    const type = req.query.get('type');
    const limit = intParam(req.query.get('limit'), Number.MAX_SAFE_INTEGER);
    const offset = intParam(req.query.get('offset'), 0);
    if (limit === undefined || offset === undefined)
      fail(400, { status: 'ERROR', message: 'invalid limit or offset' });
    const rows = state.unsubscribes
      .filter(
        (u) =>
          (!since || u.at >= since) && (!before || u.at < before) && (type === null || u.type === type),
      )
      .sort((a, b) => a.at.getTime() - b.at.getTime())
      .slice(offset, offset + limit)
      .map((u) => ({
        email_address: u.email_address,
        profile_id: u.profile_id,
        reason: u.reason,
        timestamp: formatUnsubscribeTime(u.at),
        type: u.type,
      }));
    return json(200, rows);
  };
}

function apiRoutes(sim: OmetriaSim): Router {
  const { opts, state, pushBucket, dataBucket } = sim;
  const routes = new Router();
  routes.post('/v2/push', authed(sim, pushBucket, push(sim)));
  routes.get(
    '/v2/push/_errors',
    authed(sim, dataBucket, () => json(200, state.errors.slice(-opts.maxErrors))),
  );
  routes.get('/v2/profiles', authed(sim, dataBucket, listProfiles(sim)));
  routes.get(
    '/v2/profiles/:id',
    authed(sim, dataBucket, (req) => {
      const p = [...state.profiles.values()].find((x) => x.id === req.param('id'));
      if (!p) fail(404, { status: 'ERROR', message: 'Profile not found' });
      return json(200, state.profileJson(p));
    }),
  );
  routes.get('/v2/unsubscribes', authed(sim, dataBucket, listUnsubscribes(sim)));
  return routes;
}

const seedSchema = z.object({ contacts: z.array(z.record(z.string(), z.unknown())) });

function controlRoutes(sim: OmetriaSim): Router {
  return new Router()
    .post('/__sim/flush', () => {
      drain(sim);
      return json(200, { ok: true });
    })
    .post('/__sim/seed', (req) => {
      const body = parseOr400(seedSchema, req.json());
      for (const c of body.contacts) applyRecord(sim.state, sim.opts, { '@type': 'contact', ...c }, sim.ctx.now());
      return json(200, { ok: true, seeded: body.contacts.length });
    });
}

/** An unsubscribe acted out at Ometria (preference centre, link, SMS stop word): a forced opt-out. */
function actOutUnsubscribe(sim: OmetriaSim, input: UnsubscribeInput): UnsubscribeResult {
  const { state, ctx } = sim;
  drain(sim);
  const cluster = state.findCluster(input.recipient);
  if (!cluster)
    fail(404, { error: `unknown recipient ${input.recipient} (email, customer id or profile id)` });
  const channel = channelOf(input);
  if (channel === 'push') fail(400, { error: 'Ometria simulator models email and sms only' });
  const requested = input.type ?? (channel === 'sms' ? 'stopword_unsubscribe_TF' : 'list_unsubscribe');
  const type = TYPE_ALIASES[requested] ?? requested;
  if (UNSUBSCRIBE_TYPES[type] !== channel)
    fail(400, { error: `type ${requested} is not an ${channel} unsubscribe type` });
  const profile = state.actOutUnsubscribe(
    cluster,
    channel,
    type,
    input.reason ?? type,
    eventTime(input, ctx.now),
  );
  return { recipient: input.recipient, channel, type, webhook: false, profile_id: profile.id };
}

/** What `/__sim/state` shows. */
function stateView({ state, queue, opts }: OmetriaSim) {
  return {
    recipients: state.consent(),
    profiles: Object.fromEntries(
      [...state.profiles.values()].map((p) => [p.id, { ...state.profileJson(p), decidedBy: p.decidedBy }]),
    ),
    listings: [...state.listings.values()].map((l) => ({ ...l, updated: l.updated.toISOString() })),
    unsubscribes: state.unsubscribes.map((u) => ({ ...u, at: u.at.toISOString() })),
    events: state.events.map((e) => ({ ...e })),
    errors: [...state.errors],
    otherRecords: { ...state.otherRecords },
    queue: { pending: queue.length, limit: opts.queueLimit },
  };
}

export function createOmetriaSimulator(
  options: OmetriaOptions,
  creds: OmetriaSimCredentials,
  ctx: SimContext,
): SimulatorDefinition {
  const opts = resolveOmetriaOptions(options);
  const sim: OmetriaSim = {
    opts,
    creds,
    ctx,
    state: new OmetriaState(opts),
    pushBucket: new TokenBucket(opts.pushRatePerSecond),
    dataBucket: new TokenBucket(opts.dataApiRatePerSecond),
    queue: [],
    timer: undefined,
  };
  seed(sim);

  return {
    name: 'ometria',
    routes: apiRoutes(sim),
    controlRoutes: controlRoutes(sim),
    hasWebhooks: false,
    unsubscribe: (input) => actOutUnsubscribe(sim, input),
    reset: () => {
      stopTimer(sim);
      sim.queue = [];
      sim.state.clear();
      sim.pushBucket.reset();
      sim.dataBucket.reset();
      seed(sim);
    },
    close: () => stopTimer(sim),
    state: () => stateView(sim),
  };
}
