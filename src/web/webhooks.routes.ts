import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebhookConfig, WebhookEndpointConfig } from '../../config/webhooks.js';
import type { WebhookBaseSettings } from '../esp/kit/webhook-kit.js';
import { espModule, settingsOf } from '../esp/registry.js';
import type { WireConsentEvent } from '../contracts/consent-event.js';
import type { AppContext } from '../app/context.js';
import { EventIdConflictError, EventValidationError, type RecordResult } from '../ingest/record-events.js';
import { type WebhookItem, WebhookPayloadError } from '../ingest/webhook-events.js';
import { verifyWebhook, WEBHOOK_HEADERS } from '../ingest/webhook-verify.js';
import { errorBody } from './errors.js';

/**
 * ESP webhook endpoints (product.md §4 last paragraph; reliability.md §5.2): `POST /v1/webhooks/<endpoint>`
 * for each configured ESP whose module has a webhook (src/esp/<esp>/<esp>.webhook.ts), e.g.
 *
 *   POST /v1/webhooks/optimizely-campaign   Optimizely Campaign `unsubscribe`, `blocklist` (esp-contracts.md §1.2)
 *   POST /v1/webhooks/actito                Actito `UPDATED_SUBSCRIPTION` / `UPDATE` (esp-contracts.md §3.4)
 *   POST /v1/webhooks/generic               CrossEngage-style `mail.unsubscribe` / "Message Unsubscribed" (§2.2)
 *
 * Each one: disabled (404) while its secret is unset; authenticated on the raw body before anything
 * is parsed (webhook-verify.ts); a signed delivery seen before (same timestamp + signature) is a
 * 202 no-op (`replay`); opt-outs are stored durably before the 202 (ctx.services.recordEvents) with
 * deterministic eventIds, so an ESP redelivery is a `duplicate`; irrelevant types are 202 `ignored`
 * (logged and counted); a malformed relevant item is a 400 naming the field, and nothing is stored.
 *
 * Raw-body access is scoped to these routes: the plugin replaces the JSON parser with a buffer one.
 */

/** An endpoint's name, as its ESP's module gives it. */
export type WebhookEndpoint = string;

export type WebhookOutcome =
  | 'accepted'
  | 'duplicate'
  | 'ignored'
  | 'replay'
  | 'unauthorized'
  | 'forbidden'
  | 'invalid'
  | 'disabled';

export interface WebhookRouteOptions {
  /** Called for every counted outcome (e.g. wire to a prom-client counter). */
  onOutcome?: (endpoint: WebhookEndpoint, outcome: WebhookOutcome, count: number) => void;
  /** Clock for the timestamp window; default Date.now. */
  now?: () => number;
}

export interface WebhookStats {
  /** Counts per endpoint and outcome since start. */
  snapshot(): Record<string, Partial<Record<WebhookOutcome, number>>>;
}

const REDIS_TIMEOUT_MS = 500;

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
        timer.unref();
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

const normaliseIp = (ip: string) => ip.replace(/^::ffff:/i, '');

interface EndpointDef {
  name: WebhookEndpoint;
  path: string;
  endpoint: WebhookEndpointConfig;
  allowedIps: readonly string[];
  parse: (body: unknown, base: WebhookBaseSettings) => WebhookItem[];
}

/** One route per configured endpoint, parsed by its ESP's module with that ESP's settings. */
function endpointsOf(ctx: AppContext, config: WebhookConfig): EndpointDef[] {
  return Object.entries(config.endpoints).map(([name, endpoint]) => {
    const webhook = espModule(ctx.config.espModules, endpoint.esp).webhook;
    if (!webhook) throw new Error(`ESP ${endpoint.esp} has no webhook, yet endpoint ${name} is configured for it`);
    const settings = settingsOf(ctx.config.esps, endpoint.esp);
    return {
      name,
      path: `/v1/webhooks/${name}`,
      endpoint,
      allowedIps: endpoint.allowedIps.map(normaliseIp),
      parse: (body, base) => webhook.parse(body, base, settings, endpoint),
    };
  });
}

/** A delivery turned away: the answer and how it is counted. */
interface Refusal {
  status: number;
  outcome: WebhookOutcome;
  body: unknown;
}

const isRefusal = (value: unknown): value is Refusal =>
  typeof value === 'object' && value !== null && 'status' in value && 'outcome' in value;

/** Enabled, from an allowed IP, authenticated on the raw body: the raw body and its replay key, or why not. */
function authenticate(
  def: EndpointDef,
  request: FastifyRequest,
  nowMs: number,
  maxSkewS: number,
): Refusal | { rawBody: Buffer; replayKey?: string } {
  const { name, endpoint } = def;
  if (endpoint.secrets.length === 0) {
    return { status: 404, outcome: 'disabled', body: errorBody('not_found', `no route POST ${def.path}`) };
  }
  if (def.allowedIps.length > 0 && !def.allowedIps.includes(normaliseIp(request.ip))) {
    request.log.warn({ webhook: name, ip: request.ip }, 'webhook from an IP that is not allowed');
    return {
      status: 403,
      outcome: 'forbidden',
      body: errorBody('forbidden', 'this client may not call the webhook'),
    };
  }
  const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  const verdict = verifyWebhook(endpoint.auth, {
    secrets: endpoint.secrets,
    rawBody,
    headers: request.headers,
    nowMs,
    maxSkewS,
  });
  if (!verdict.ok) {
    request.log.warn(
      { webhook: name, reason: verdict.reason, deliveryId: request.headers[WEBHOOK_HEADERS.id] },
      'webhook rejected: authentication failed',
    );
    return {
      status: 401,
      outcome: 'unauthorized',
      body: errorBody(
        'unauthorized',
        'webhook authentication failed: missing or wrong signature or credentials, or a timestamp outside the allowed window',
      ),
    };
  }
  return { rawBody, ...(verdict.replayKey ? { replayKey: verdict.replayKey } : {}) };
}

/** The body as JSON, parsed by the endpoint's ESP parser into its items, or why it was not stored. */
function parseDelivery(
  def: EndpointDef,
  request: FastifyRequest,
  rawBody: Buffer,
  settings: WebhookBaseSettings,
): Refusal | WebhookItem[] {
  let body: unknown;
  try {
    body = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return {
      status: 400,
      outcome: 'invalid',
      body: errorBody('invalid_json', 'the body is not JSON', [
        { field: '(body)', rule: 'must be a JSON document' },
      ]),
    };
  }
  try {
    return def.parse(body, settings);
  } catch (err) {
    if (!(err instanceof WebhookPayloadError)) throw err;
    request.log.warn({ webhook: def.name, problems: err.problems }, 'webhook rejected: malformed payload');
    return {
      status: 400,
      outcome: 'invalid',
      body: errorBody('validation_failed', 'the webhook payload was not stored', err.problems),
    };
  }
}

/** Stores the opt-outs; an eventId already used for a different body counts as a duplicate (logged). */
async function record(
  ctx: AppContext,
  request: FastifyRequest,
  name: WebhookEndpoint,
  events: readonly WireConsentEvent[],
): Promise<RecordResult[]> {
  const first = new Map<string, WireConsentEvent>();
  for (const e of events) if (!first.has(e.eventId)) first.set(e.eventId, e);
  let pending = [...first.values()];
  const conflicts = new Set<string>();
  let results: RecordResult[] = [];
  for (let attempt = 0; pending.length > 0; attempt++) {
    try {
      results = await ctx.services.recordEvents(pending, 'events');
      break;
    } catch (err) {
      if (!(err instanceof EventIdConflictError) || attempt > 0) throw err;
      request.log.warn(
        { webhook: name, eventIds: err.eventIds },
        'webhook eventIds already identify different events; kept the stored ones',
      );
      for (const id of err.eventIds) conflicts.add(id);
      pending = pending.filter((e) => !conflicts.has(e.eventId));
    }
  }
  const byId = new Map(results.map((r) => [r.eventId, r.status]));
  const reported = new Set<string>();
  return events.map((e) => {
    const repeated = reported.has(e.eventId);
    reported.add(e.eventId);
    return {
      eventId: e.eventId,
      status: repeated || conflicts.has(e.eventId) ? 'duplicate' : (byId.get(e.eventId) ?? 'duplicate'),
    };
  });
}

/** What every webhook route shares: the context, the settings, the clock and the outcome counter. */
interface RouteDeps {
  ctx: AppContext;
  config: WebhookConfig;
  settings: WebhookBaseSettings;
  now: () => number;
  count: (endpoint: WebhookEndpoint, outcome: WebhookOutcome, n?: number) => void;
}

/**
 * Signed deliveries seen before (same timestamp + signature) are remembered in Redis for twice the
 * allowed skew; when Redis does not answer in time, eventId deduplication still holds.
 */
function replayGuard(
  ctx: AppContext,
  config: WebhookConfig,
  request: FastifyRequest,
  name: WebhookEndpoint,
  key: string,
) {
  const deliveryKey = `${ctx.runtime.prefix}:webhook-delivery:${name}:${key}`;
  const replayTtlS = 2 * config.maxSkewS + 60;
  return {
    seen: () =>
      withTimeout(ctx.runtime.producer.exists(deliveryKey), REDIS_TIMEOUT_MS).catch((err: unknown) => {
        request.log.warn(
          { err, webhook: name },
          'webhook replay check unavailable; relying on eventId deduplication',
        );
        return 0;
      }),
    remember: () =>
      withTimeout(ctx.runtime.producer.set(deliveryKey, '1', 'EX', replayTtlS, 'NX'), REDIS_TIMEOUT_MS).catch(
        (err: unknown) => request.log.warn({ err, webhook: name }, 'could not remember the webhook delivery'),
      ),
  };
}

function webhookHandler(def: EndpointDef, { ctx, config, settings, now, count }: RouteDeps) {
  const { name } = def;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const refuse = (r: Refusal) => {
      count(name, r.outcome);
      return reply.code(r.status).send(r.body);
    };
    const admitted = authenticate(def, request, now(), config.maxSkewS);
    if (isRefusal(admitted)) return refuse(admitted);
    const replay = admitted.replayKey
      ? replayGuard(ctx, config, request, name, admitted.replayKey)
      : undefined;
    if (replay && (await replay.seen()) === 1) {
      count(name, 'replay');
      request.log.info(
        { webhook: name, deliveryId: request.headers[WEBHOOK_HEADERS.id] },
        'webhook delivery replayed; ignored',
      );
      return reply
        .code(202)
        .send({ status: 'replay', received: 0, accepted: 0, duplicates: 0, ignored: 0, events: [] });
    }
    const items = parseDelivery(def, request, admitted.rawBody, settings);
    if (isRefusal(items)) return refuse(items);
    const events = items.flatMap((i) => (i.kind === 'opt_out' ? [i.event] : []));
    const ignored = items.flatMap((i) =>
      i.kind === 'ignored' ? [{ index: i.index, type: i.type, reason: i.reason }] : [],
    );
    let results: RecordResult[] = [];
    try {
      results = events.length > 0 ? await record(ctx, request, name, events) : [];
    } catch (err) {
      if (!(err instanceof EventValidationError)) throw err;
      count(name, 'invalid');
      return reply
        .code(400)
        .send(errorBody('validation_failed', 'the webhook payload was not stored', err.problems));
    }
    if (replay) await replay.remember();
    const accepted = results.filter((r) => r.status === 'accepted').length;
    const duplicates = results.length - accepted;
    count(name, 'accepted', accepted);
    count(name, 'duplicate', duplicates);
    count(name, 'ignored', ignored.length);
    if (ignored.length > 0) request.log.info({ webhook: name, ignored }, 'webhook items ignored');
    return reply.code(202).send({
      status: events.length === 0 ? 'ignored' : accepted > 0 ? 'accepted' : 'duplicate',
      received: items.length,
      accepted,
      duplicates,
      ignored: ignored.length,
      events: results,
      ...(ignored.length > 0 ? { ignoredItems: ignored } : {}),
    });
  };
}

export function registerWebhookRoutes(
  app: FastifyInstance,
  ctx: AppContext,
  config: WebhookConfig,
  options: WebhookRouteOptions = {},
): WebhookStats {
  const now = options.now ?? Date.now;
  const settings: WebhookBaseSettings = { channels: ctx.config.consent.channels, maxEvents: config.maxEvents };
  const counts: Record<string, Partial<Record<WebhookOutcome, number>>> = {};
  const count = (endpoint: WebhookEndpoint, outcome: WebhookOutcome, n = 1) => {
    if (n <= 0) return;
    const perEndpoint = counts[endpoint] ?? {};
    counts[endpoint] = perEndpoint;
    perEndpoint[outcome] = (perEndpoint[outcome] ?? 0) + n;
    options.onOutcome?.(endpoint, outcome, n);
  };
  const deps: RouteDeps = { ctx, config, settings, now, count };

  app.register(async (scope) => {
    // Signatures cover the exact bytes: these routes get the raw body, parsed only after verification.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: config.bodyLimitBytes },
      (_request, body, done) => {
        done(null, body);
      },
    );
    for (const def of endpointsOf(ctx, config)) {
      scope.post(def.path, { bodyLimit: config.bodyLimitBytes }, webhookHandler(def, deps));
    }
  });

  return { snapshot: () => structuredClone(counts) };
}
