/**
 * Optimizely Campaign simulator (esp-contracts.md §1): the HTTP API (form/mail service, plain-text tokens) and the
 * REST API (Basic auth, JSON) over one shared state.
 *
 * Recipient key in `/__sim/state`: the recipient id (`bmRecipientId` / `recipientId`, usually the email address),
 * exactly as sent (case-sensitive, as Optimizely parameters are). Exact (non-wildcard) blocklist patterns also
 * appear, lower-cased.
 * Canonical mapping:
 *   email    opted_out if unsubscribed (EMAIL or GLOBAL) or blocklisted; opted_in if confirmed on a list or an
 *            unsubscribe/blocklist entry was removed.
 *   sms/push opted_out if unsubscribed (SMS/PUSH or GLOBAL); opted_in after such an unsubscribe was removed.
 *   tracking opted_out with a tracking opt-out; opted_in if on a list or the opt-out was deleted.
 * ESP detail keys: `lists`, `unsubscribes`, `blacklist`, `trackingOptOuts`, `registeredWebhooks`, `webhooks`.
 *
 * Acted-out unsubscribes (`POST /__sim/unsubscribe`, body extras `recipientListId`, `mailingId`, `mediaType`)
 * add an unsubscribe entry with `reason` = type (default `list_unsubscribe`) and media type GLOBAL for email (like
 * mail-service unsubscribes; option `httpUnsubscribeMediaType`), SMS / PUSH for sms / push; visible in the default
 * `GET /unsubscribes` (mediaType GLOBAL), and
 * POST the `unsubscribe` webhook payload (INFERENCE, the vendor's payload schema is not in the contract):
 *   {"type":"unsubscribe","clientId","recipientId","recipientListId","mailingId","mediaType","reason","created"}
 * to the webhook target and to webhooks registered through `POST /rest/{clientId}/webhooks` (with their auth).
 *
 * Extra control routes: `POST /__sim/seed {"recipients":[{recipientId, recipientListId?, address?, fields?}]}`,
 * `POST /__sim/confirm-optin {"recipient", "recipientListId"?}` (confirms a pending opt-in; INFERENCE: a confirmed
 * opt-in removes the recipient's GLOBAL and EMAIL unsubscribes).
 */
import { z } from 'zod';
import { parseOr400 } from '../../../simulators/core/control.js';
import type { SimContext, SimulatorDefinition } from '../../../simulators/core/definition.js';
import { fail, json } from '../../../simulators/core/reply.js';
import { Router } from '../../../simulators/core/router.js';
import type { UnsubscribeInput, UnsubscribeResult } from '../../../simulators/core/types.js';
import { channelOf, eventTime, str } from '../../../simulators/core/util.js';
import type { WebhookDestination } from '../../../simulators/core/webhooks.js';
import type { OptimizelyCampaignSimCredentials } from './optimizely-campaign.options.js';
import { registerHttpApi } from './optimizely-campaign.http-api.js';
import {
  isMediaType,
  type OptimizelyCampaignOptions,
  type OptimizelySeedRecipient,
  resolveOptimizelyOptions,
} from './optimizely-campaign.options.js';
import { registerRestApi } from './optimizely-campaign.rest-api.js';
import {
  mediaTypeOf,
  OptimizelyState,
  type UnsubscribeEntry,
  type WebhookAuthentication,
} from './optimizely-campaign.state.js';

const seedSchema = z.object({
  recipients: z.array(
    z.object({
      recipientId: z.string().min(1),
      recipientListId: z.string().optional(),
      address: z.string().optional(),
      fields: z.record(z.string(), z.string()).optional(),
    }),
  ),
});

const confirmSchema = z.object({ recipient: z.string().min(1), recipientListId: z.string().optional() });

/** One Optimizely Campaign simulator's state: recipient lists, unsubscribes, blocklist, registered webhooks. */
interface OcSim {
  opts: ReturnType<typeof resolveOptimizelyOptions>;
  creds: OptimizelyCampaignSimCredentials;
  ctx: SimContext;
  state: OptimizelyState;
}

function seed({ creds, ctx, state }: OcSim, recipients: readonly OptimizelySeedRecipient[]): void {
  const now = ctx.now();
  for (const r of recipients) {
    const listId = r.recipientListId ?? creds.recipientListId;
    state.putRecipient({
      recipientId: r.recipientId,
      recipientListId: listId,
      address: r.address ?? null,
      fields: { ...(r.fields ?? {}) },
      optinStatus: 'confirmed',
      optInProcessId: null,
      created: now,
      modified: now,
    });
  }
}

/** The `unsubscribe` webhook to every activated registration of that type; true when one was sent. */
function emitUnsubscribe({ creds, ctx, state }: OcSim, entry: UnsubscribeEntry): boolean {
  const destinations: WebhookDestination[] = state.webhooks
    .filter((w) => w.type === 'unsubscribe' && w.status === 'activated')
    .map((w) => ({ url: w.targetUrl, headers: authHeaders(w.authentication) }));
  return ctx.webhooks.emit(
    'unsubscribe',
    {
      type: 'unsubscribe',
      clientId: creds.clientId,
      recipientId: entry.recipientId,
      recipientListId: entry.recipientListId,
      mailingId: entry.mailingId,
      mediaType: entry.mediaType,
      reason: entry.reason,
      created: entry.created.toISOString(),
    },
    destinations,
  );
}

function controlRoutes(sim: OcSim): Router {
  const { creds, ctx, state } = sim;
  return new Router()
    .post('/__sim/seed', (req) => {
      const body = parseOr400(seedSchema, req.json());
      seed(sim, body.recipients.map(stripUndefined));
      return json(200, { ok: true, seeded: body.recipients.length });
    })
    .post('/__sim/confirm-optin', (req) => {
      const body = parseOr400(confirmSchema, req.json());
      const listId = body.recipientListId ?? creds.recipientListId;
      const r = state.recipient(listId, body.recipient);
      if (!r) fail(404, { error: `recipient ${body.recipient} not on list ${listId}` });
      r.optinStatus = 'confirmed';
      r.modified = ctx.now();
      for (const m of ['GLOBAL', 'EMAIL'] as const) state.removeUnsubscribes(body.recipient, m, listId);
      state.touch(body.recipient, 'email');
      return json(200, { ok: true });
    });
}

/** An unsubscribe acted out at Optimizely (mail link, List-Unsubscribe): an unsubscribe entry and its webhook. */
function actOutUnsubscribe(sim: OcSim, input: UnsubscribeInput): UnsubscribeResult {
  const { opts, creds, ctx, state } = sim;
  const channel = channelOf(input);
  const explicitMedia = str(input, 'mediaType');
  if (explicitMedia !== undefined && !isMediaType(explicitMedia))
    fail(400, { error: `invalid mediaType ${explicitMedia}` });
  const type = input.type ?? 'list_unsubscribe';
  const { entry, created } = state.addUnsubscribe({
    recipientId: input.recipient,
    recipientListId: str(input, 'recipientListId') ?? creds.recipientListId,
    mailingId: str(input, 'mailingId') ?? null,
    reason: input.reason ?? type,
    created: eventTime(input, ctx.now),
    // An email unsubscribe at the ESP (mail link, List-Unsubscribe) is a mail-service unsubscribe: same media type
    // as HTTP API unsubscribes (option httpUnsubscribeMediaType, default GLOBAL); sms/push use SMS/PUSH.
    mediaType:
      explicitMedia ?? (channel === 'email' ? opts.httpUnsubscribeMediaType : mediaTypeOf(channel)),
    origin: 'recipient',
  });
  const webhook = created ? emitUnsubscribe(sim, entry) : false;
  return { recipient: input.recipient, channel, type, webhook, created, mediaType: entry.mediaType };
}

/** What `/__sim/state` shows. */
function stateView(state: OptimizelyState) {
  return {
    recipients: state.consent(),
    lists: Object.fromEntries(
      [...state.lists].map(([listId, list]) => [
        listId,
        [...list.values()].map((r) => ({
          recipientId: r.recipientId,
          address: r.address,
          optinStatus: r.optinStatus,
          fields: r.fields,
        })),
      ]),
    ),
    unsubscribes: state.unsubscribes.map((e) => ({ ...e, created: e.created.toISOString() })),
    blacklist: [...state.blacklist.values()].map((e) => ({
      pattern: e.pattern,
      reason: e.reason,
      created: e.created.toISOString(),
    })),
    trackingOptOuts: [...state.trackingOptOuts].map(([recipientId, at]) => ({
      recipientId,
      created: at.toISOString(),
    })),
    registeredWebhooks: state.webhooks.map((w) => ({
      id: w.id,
      type: w.type,
      targetUrl: w.targetUrl,
      authentication: w.authentication.type,
    })),
  };
}

export function createOptimizelyCampaignSimulator(
  options: OptimizelyCampaignOptions,
  creds: OptimizelyCampaignSimCredentials,
  ctx: SimContext,
): SimulatorDefinition {
  const opts = resolveOptimizelyOptions(options, creds);
  const sim: OcSim = { opts, creds, ctx, state: new OptimizelyState(opts.recipientListBasedUnsubscribes) };
  const { state } = sim;
  seed(sim, opts.recipients);

  const onApiUnsubscribe = (entry: UnsubscribeEntry): void => {
    if (opts.webhookOnApiChanges) emitUnsubscribe(sim, entry);
  };
  const routes = new Router();
  registerHttpApi(routes, { state, opts, now: ctx.now, onUnsubscribe: onApiUnsubscribe });
  registerRestApi(routes, { state, opts, creds, now: ctx.now, onUnsubscribe: onApiUnsubscribe });

  return {
    name: 'optimizely-campaign',
    routes,
    controlRoutes: controlRoutes(sim),
    hasWebhooks: true,
    unsubscribe: (input) => actOutUnsubscribe(sim, input),
    maskPath: (path) => path.replace(/^\/http\/(form|mail)\/[^/]+/, '/http/$1/***'),
    reset: () => {
      state.clear();
      seed(sim, opts.recipients);
    },
    state: () => stateView(state),
  };
}

function stripUndefined(r: {
  recipientId: string;
  recipientListId?: string | undefined;
  address?: string | undefined;
  fields?: Record<string, string> | undefined;
}): OptimizelySeedRecipient {
  const out: OptimizelySeedRecipient = { recipientId: r.recipientId };
  if (r.recipientListId !== undefined) out.recipientListId = r.recipientListId;
  if (r.address !== undefined) out.address = r.address;
  if (r.fields !== undefined) out.fields = r.fields;
  return out;
}

/** Headers for a registered webhook's `authentication` (none | basicAuth | keyAuth, §1.2). */
function authHeaders(auth: WebhookAuthentication): Record<string, string> {
  if (auth.type === 'basicAuth') {
    const token = Buffer.from(`${auth.userName ?? ''}:${auth.password ?? ''}`).toString('base64');
    return { authorization: `Basic ${token}` };
  }
  if (auth.type === 'keyAuth' && auth.key) return { [auth.key.toLowerCase()]: auth.passphrase ?? '' };
  return {};
}
