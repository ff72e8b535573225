/**
 * Actito simulator (esp-contracts.md §3): `GET /auth/token` (raw API key → 15-minute bearer token), V4 profile
 * upsert with `marketingConsent`, subscriptions and `dataCollectionInformation {source, way, date}`, a
 * tracking-consent attribute, profile and subscription read-back, at most 5 requests in flight per licence
 * (the next one → 429) and slower answers above 100 calls/minute. Profile-table webhooks (§3.4).
 *
 * Recipient key in `/__sim/state`: the profile's unique key value (option `uniqueKeyAttribute`, default
 * `emailAddress`, lower-cased); the numeric `profileId` is detail under `profiles`.
 * Canonical mapping: email ← `marketingConsent` (false → opted_out, true → opted_in) combined with the channel's
 * subscription (option `channelSubscriptions`, default ACTITO_SIM_SUBSCRIPTIONS: email → `Newsletter`, sms →
 * `SMS_News`; false → opted_out); sms/push appear only
 * when their configured subscription has a value; tracking ← the tracking-consent attribute (Boolean).
 * ESP detail keys: `profiles`, `interactions`, `webhooks`.
 *
 * Webhooks (INFERENCE: payload schema not in the contract; "only the attributes supplied in the triggering
 * operation, plus the unique ids"): `{"eventType":"UPDATED_SUBSCRIPTION"|"UPDATE"|"CREATE","entity","profileTable",
 * "moment","profileId","uniqueIds":{...},"subscriptions"|"attributes":[...]}`, for API changes too (option
 * `webhookOnApiChanges`, default true) and for acted-out unsubscribes.
 *
 * Acted-out unsubscribes: `POST /__sim/unsubscribe {"recipient": <key or profileId>, "channel", "type",
 * "subscription"?}` unsubscribes `subscription` (default: the channel's configured subscription), or, for email
 * without one, sets `marketingConsent` false; consent metadata `{source:"actito", way:<type>, date}`.
 * Bulk imports (actito.imports.ts): `POST /v4/entity/{e}/table/{t}/import` (a ZIP of one CSV, 12 a table a day),
 * status at `GET …/import/{id}`, landing after a scripted delay; `POST /__sim/imports {"hold", "delayMs"}`.
 * Extra control routes: `POST /__sim/seed {"profiles":[{attributes:{...}, subscriptions?:{name: bool}}]}`,
 * `POST /__sim/expire-tokens` (every issued token becomes invalid → 401).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { parseOr400 } from '../../../simulators/core/control.js';
import type { SimContext, SimulatorDefinition } from '../../../simulators/core/definition.js';
import { InFlightLimiter, SlidingWindowCounter } from '../../../simulators/core/limits.js';
import { fail, json } from '../../../simulators/core/reply.js';
import { Router } from '../../../simulators/core/router.js';
import type { Admission, RouteHandler, UnsubscribeInput, UnsubscribeResult } from '../../../simulators/core/types.js';
import { channelOf, eventTime, str } from '../../../simulators/core/util.js';
import type { ActitoSimCredentials } from './actito.options.js';
import {
  type ActitoOptions,
  type ActitoSeedProfile,
  type ActitoWebhookEvent,
  resolveActitoOptions,
} from './actito.options.js';
import { createActitoImports } from './actito.imports.js';
import { parseProfileInput, registerProfileRoutes } from './actito.routes.js';
import { ActitoState, type ProfileChange } from './actito.state.js';

const seedSchema = z.object({
  profiles: z.array(
    z.object({
      attributes: z.record(z.string(), z.unknown()),
      subscriptions: z.record(z.string(), z.boolean()).optional(),
    }),
  ),
});

/** `yyyy-MM-dd HH:mm:ss` (UTC), the date format the public client uses (§3.3 INFERENCE). */
function actitoDate(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

/** One Actito simulator's state: profiles, tokens, the in-flight limit and the per-minute window. */
interface ActitoSim {
  opts: ReturnType<typeof resolveActitoOptions>;
  creds: ActitoSimCredentials;
  ctx: SimContext;
  state: ActitoState;
  inFlight: InFlightLimiter;
  perMinute: SlidingWindowCounter;
  imports: ReturnType<typeof createActitoImports>;
}

function seedProfiles(
  { opts, state, ctx }: ActitoSim,
  profiles: readonly {
    attributes: Record<string, unknown>;
    subscriptions?: Record<string, boolean> | undefined;
  }[],
): void {
  for (const p of profiles) {
    const input = parseProfileInput(
      {
        attributes: Object.entries(p.attributes).map(([name, value]) => ({ name, value })),
        subscriptions: Object.entries(p.subscriptions ?? {}).map(([name, subscribe]) => ({
          name,
          subscribe,
        })),
      },
      opts,
    );
    state.upsert(input, ctx.now());
  }
}

/** The profile-table webhooks (§3.4) one change triggers; true when one was sent. */
function emit({ opts, creds, ctx, state }: ActitoSim, change: ProfileChange): boolean {
  const { profile } = change;
  const base = {
    entity: creds.entity,
    profileTable: creds.profileTable,
    moment: ctx.now().toISOString(),
    profileId: profile.profileId,
    uniqueIds: { [opts.uniqueKeyAttribute]: state.keyOf(profile) },
  };
  const wanted = (e: ActitoWebhookEvent): boolean => opts.webhookEvents.includes(e);
  let sent = false;
  if (change.created && wanted('CREATE'))
    sent =
      ctx.webhooks.emit('CREATE', { eventType: 'CREATE', ...base, attributes: change.attributes }) || sent;
  else if (!change.created && change.attributes.length > 0 && wanted('UPDATE')) {
    sent =
      ctx.webhooks.emit('UPDATE', { eventType: 'UPDATE', ...base, attributes: change.attributes }) || sent;
  }
  if (change.subscriptions.length > 0 && wanted('UPDATED_SUBSCRIPTION')) {
    sent =
      ctx.webhooks.emit('UPDATED_SUBSCRIPTION', {
        eventType: 'UPDATED_SUBSCRIPTION',
        ...base,
        subscriptions: change.subscriptions,
      }) || sent;
  }
  return sent;
}

/** Bearer token (and, when enforced, `Accept: application/json`) required. */
const authed =
  ({ opts, state, ctx }: Pick<ActitoSim, 'opts' | 'state' | 'ctx'>) =>
  (handler: RouteHandler): RouteHandler =>
  (req) => {
    const accept = req.header('accept');
    if (opts.enforceAccept && accept && !/application\/json|application\/\*|\*\/\*/i.test(accept)) {
      fail(406, { status: 406, message: 'Not Acceptable: use Accept: application/json' });
    }
    const match = /^Bearer\s+(\S+)$/i.exec(req.header('authorization') ?? '');
    const expiresAt = match?.[1] ? state.tokens.get(match[1]) : undefined;
    if (expiresAt === undefined || expiresAt <= ctx.now().getTime()) {
      fail(401, { error: 'invalid_token', error_description: 'Access token expired or invalid' });
    }
    return handler(req);
  };

function apiRoutes(sim: ActitoSim): Router {
  const { opts, creds, ctx, state } = sim;
  const routes = new Router();
  routes.get('/auth/token', (req) => {
    if (req.header('authorization') !== creds.apiKey)
      fail(401, { status: 401, message: 'Invalid or revoked API key' });
    const accessToken = randomBytes(24).toString('base64url');
    state.tokens.set(accessToken, ctx.now().getTime() + opts.tokenTtlSeconds * 1000);
    return json(200, {
      accessToken,
      tokenType: 'bearer',
      expiresIn: `${opts.tokenTtlSeconds}s`,
      scope: 'read write',
      jti: randomUUID(),
    });
  });
  registerProfileRoutes(routes, {
    state,
    opts,
    entity: creds.entity,
    profileTable: creds.profileTable,
    now: ctx.now,
    authed: authed(sim),
    onChange: (change) => {
      if (opts.webhookOnApiChanges) emit(sim, change);
    },
  });
  sim.imports.register(routes);
  return routes;
}

function controlRoutes(sim: ActitoSim): Router {
  const routes = new Router()
    .post('/__sim/seed', (req) => {
      const body = parseOr400(seedSchema, req.json());
      seedProfiles(sim, body.profiles);
      return json(200, { ok: true, seeded: body.profiles.length });
    })
    .post('/__sim/expire-tokens', () => {
      sim.state.tokens.clear();
      return json(200, { ok: true });
    });
  sim.imports.registerControl(routes);
  return routes;
}

/** An unsubscribe acted out at Actito: the channel's subscription, or `marketingConsent` for email. */
function actOutUnsubscribe(sim: ActitoSim, input: UnsubscribeInput): UnsubscribeResult {
  const { opts, ctx, state } = sim;
  const profile = state.find(input.recipient);
  if (!profile) fail(404, { error: `unknown profile ${input.recipient}` });
  const channel = channelOf(input);
  const type = input.type ?? 'unsubscribe_link';
  const at = eventTime(input, ctx.now);
  const info = { source: 'actito', way: type, date: actitoDate(at) };
  const subscription = str(input, 'subscription') ?? opts.channelSubscriptions[channel];
  const change: ProfileChange = { profile, created: false, attributes: [], subscriptions: [] };
  if (subscription !== undefined) {
    if (state.setSubscription(profile, subscription, false, info, at))
      change.subscriptions.push({ name: subscription, subscribe: false });
  } else if (channel === 'email') {
    if (profile.attributes.get('marketingConsent') !== false)
      change.attributes.push({ name: 'marketingConsent', value: false });
    profile.attributes.set('marketingConsent', false);
    profile.consentInfo['marketingConsent'] = { value: false, ...info };
    profile.updated = at;
  } else {
    fail(400, { error: `no subscription configured for channel ${channel}; pass "subscription"` });
  }
  profile.lastDataCollection = info;
  state.note(
    profile.profileId,
    'unsubscribe',
    { channel, type, subscription: subscription ?? null, reason: input.reason ?? null },
    at,
  );
  const webhook = emit(sim, change);
  return {
    recipient: input.recipient,
    channel,
    type,
    webhook,
    profileId: profile.profileId,
    subscription: subscription ?? null,
  };
}

/** At most `maxConcurrentRequests` in flight (the next → 429); slower answers above `callsPerMinute`. */
function admission({ opts, inFlight, perMinute }: ActitoSim): Admission {
  const release = inFlight.tryAcquire();
  if (!release)
    return {
      reply: json(429, {
        status: 429,
        message: `Too many concurrent requests (max ${opts.maxConcurrentRequests} per licence)`,
      }),
    };
  const count = perMinute.hit();
  return count > opts.callsPerMinute ? { release, delayMs: opts.throttleDelayMs } : { release };
}

export function createActitoSimulator(
  options: ActitoOptions,
  creds: ActitoSimCredentials,
  ctx: SimContext,
): SimulatorDefinition {
  const opts = resolveActitoOptions(options);
  const state = new ActitoState(opts);
  const sim: ActitoSim = {
    opts,
    creds,
    ctx,
    state,
    inFlight: new InFlightLimiter(opts.maxConcurrentRequests),
    perMinute: new SlidingWindowCounter(60_000),
    // Lands imported profiles as the profile API would, with the same webhooks.
    imports: createActitoImports({
      state,
      opts,
      entity: creds.entity,
      profileTable: creds.profileTable,
      now: ctx.now,
      authed: authed({ opts, ctx, state }),
      onChange: (change) => {
        if (opts.webhookOnApiChanges) emit(sim, change);
      },
    }),
  };
  seedProfiles(sim, opts.profiles satisfies readonly ActitoSeedProfile[]);

  return {
    name: 'actito',
    routes: apiRoutes(sim),
    controlRoutes: controlRoutes(sim),
    hasWebhooks: true,
    unsubscribe: (input) => actOutUnsubscribe(sim, input),
    admission: () => admission(sim),
    reset: () => {
      state.clear();
      sim.imports.reset();
      sim.perMinute.reset();
      seedProfiles(sim, opts.profiles);
    },
    state: () => ({
      recipients: state.consent(),
      profiles: Object.fromEntries(
        [...state.profiles.values()].map((p) => [
          state.keyOf(p),
          { ...state.profileJson(p), consentInformation: p.consentInfo },
        ]),
      ),
      interactions: state.interactions.map((i) => ({ ...i })),
      imports: sim.imports.state(),
    }),
  };
}
