/**
 * CrossEngage simulator (esp-contracts.md §2): User Management v1/v2 with `X-XNG-AuthToken` and
 * `X-XNG-ApiVersion` on every call, opt-out/blacklist status per user, "Opt Out" events for users and leads.
 * Every response carries `X-Request-ID` (§2.4). No webhooks.
 *
 * Recipient key in `/__sim/state`: the user's external id; leads (email-only profiles) are
 * `lead:<businessUnit>:<email>` with the email lower-cased and an empty businessUnit when none was sent.
 * Canonical mapping (CrossEngage is an opt-out system, §2.2): email ← MAIL, sms ← SMS, push ← PUSH_NOTIFICATION;
 * `opted_out` when `optOutAll` or the channel is opted out, else `opted_in`. `blacklisted` (hard suppression) and
 * the other channel types are detail under `users` / `leads`. No tracking consent.
 * ESP detail keys: `users`, `leads`, `events`.
 *
 * Acted-out unsubscribes: `POST /__sim/unsubscribe {"recipient": <key>, "channel", "type"}` opts the channel out
 * (readable through `GET /users/{id}/optout-status` and `/recipient-status`) and records an outbound
 * "Message Unsubscribed" event (§2.2). Unknown recipient → 404.
 * Extra control route: `POST /__sim/seed {"users":[{id, email?, businessUnit?, traits?}], "leads":[{email, businessUnit?}]}`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { parseOr400 } from '../../../simulators/core/control.js';
import type { SimContext, SimulatorDefinition } from '../../../simulators/core/definition.js';
import { fail, json } from '../../../simulators/core/reply.js';
import { Router } from '../../../simulators/core/router.js';
import type { UnsubscribeInput, UnsubscribeResult } from '../../../simulators/core/types.js';
import { channelOf, eventTime } from '../../../simulators/core/util.js';
import type { CrossEngageSimCredentials } from './crossengage.options.js';
import type { CeDeps } from './crossengage.common.js';
import { registerEventRoutes } from './crossengage.events.js';
import {
  type CrossEngageOptions,
  type CrossEngageSeedLead,
  type CrossEngageSeedUser,
  resolveCrossEngageOptions,
} from './crossengage.options.js';
import { CANONICAL_TO_CHANNEL_TYPE, CrossEngageState } from './crossengage.state.js';
import { registerUserRoutes } from './crossengage.users.js';

/** A seed as parsed by zod (optional fields may be explicitly undefined). */
type Loose<T> = { [K in keyof T]?: T[K] | undefined };

const seedSchema = z.object({
  users: z
    .array(
      z.object({
        id: z.string().min(1),
        email: z.string().optional(),
        businessUnit: z.string().optional(),
        traits: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .optional(),
  leads: z.array(z.object({ email: z.string().min(1), businessUnit: z.string().optional() })).optional(),
});

/** An unsubscribe acted out at CrossEngage: the channel's opt-out set and a "Message Unsubscribed" event. */
function actOutUnsubscribe(state: CrossEngageState, ctx: SimContext, input: UnsubscribeInput): UnsubscribeResult {
  const profile = state.byKey(input.recipient);
  if (!profile)
    fail(404, { error: `unknown recipient ${input.recipient} (use the external id or lead:<bu>:<email>)` });
  const channel = channelOf(input);
  const channelType = CANONICAL_TO_CHANNEL_TYPE[channel];
  const at = eventTime(input, ctx.now);
  const type = input.type ?? 'message.unsubscribed';
  state.setOptOut(profile, channelType, true, at);
  state.recordEvent({
    at: at.toISOString(),
    recipient: input.recipient,
    event: 'Message Unsubscribed',
    channelType,
    properties: { type, ...(input.reason ? { reason: input.reason } : {}) },
    effect: 'opt-out',
  });
  return { recipient: input.recipient, channel, type, webhook: false, channelType };
}

export function createCrossEngageSimulator(
  options: CrossEngageOptions,
  creds: CrossEngageSimCredentials,
  ctx: SimContext,
): SimulatorDefinition {
  const opts = resolveCrossEngageOptions(options);
  const state = new CrossEngageState();
  const deps: CeDeps = { state, opts, authToken: creds.authToken, now: ctx.now };

  const seed = (
    users: readonly Loose<CrossEngageSeedUser>[],
    leads: readonly Loose<CrossEngageSeedLead>[],
  ): void => {
    const now = ctx.now();
    for (const u of users) {
      if (!u.id) continue;
      state.upsertUser(
        u.id,
        { email: u.email ?? null, businessUnit: u.businessUnit ?? null, traits: u.traits ?? {} },
        now,
      );
    }
    for (const l of leads) if (l.email) state.upsertLead(l.email, l.businessUnit ?? null, {}, now);
  };
  seed(opts.users, opts.leads);

  const routes = new Router();
  registerEventRoutes(routes, deps);
  registerUserRoutes(routes, deps);

  const controlRoutes = new Router().post('/__sim/seed', (req) => {
    const body = parseOr400(seedSchema, req.json() ?? {});
    seed(body.users ?? [], body.leads ?? []);
    return json(200, { ok: true });
  });

  const profileDetail = (p: ReturnType<CrossEngageState['byKey']> & object) => ({
    ...state.profileJson(p),
    ...state.statusJson(p),
    updated: p.updated.toISOString(),
  });

  return {
    name: 'crossengage',
    routes,
    controlRoutes,
    hasWebhooks: false,
    unsubscribe: (input) => actOutUnsubscribe(state, ctx, input),
    responseHeaders: () => ({ 'x-request-id': randomUUID() }),
    reset: () => {
      state.clear();
      seed(opts.users, opts.leads);
    },
    state: () => ({
      recipients: state.consent(),
      users: Object.fromEntries([...state.users].map(([k, p]) => [k, profileDetail(p)])),
      leads: Object.fromEntries([...state.leads].map(([k, p]) => [k, profileDetail(p)])),
      events: state.events.map((e) => ({ ...e })),
    }),
  };
}
