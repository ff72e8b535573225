import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebhookConfig, WebhookEndpointConfig } from '../../config/webhooks.js';
import type { WireConsentEvent } from '../contracts/consent-event.js';
import type { AppContext } from '../app/context.js';
import { EventIdConflictError, EventValidationError, type RecordResult } from '../ingest/record-events.js';
import {
  WEBHOOK_PARSERS,
  type WebhookItem,
  type WebhookParseSettings,
  WebhookPayloadError,
} from '../ingest/webhook-events.js';
import { verifyWebhook, WEBHOOK_HEADERS } from '../ingest/webhook-verify.js';
import { errorBody } from './errors.js';

/**
 * ESP webhook endpoints (product.md §4 last paragraph; reliability.md §5.2):
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

export type WebhookEndpoint = 'optimizely-campaign' | 'actito' | 'generic';

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

/** The settings the payload parsers need, from the shared configuration. */
export function webhookParseSettings(ctx: AppContext, config: WebhookConfig): WebhookParseSettings {
  const esps = ctx.config.esps;
  return {
    channels: ctx.config.consent.channels,
    maxEvents: config.maxEvents,
    optimizely: {
      recipientId: esps['optimizely-campaign'].recipientId,
      mediaTypes: esps['optimizely-campaign'].mediaTypes,
    },
    actito: {
      uniqueKeyAttribute: esps.actito.uniqueKeyAttribute,
      marketingConsentChannel: esps.actito.marketingConsentChannel,
      subscriptions: esps.actito.subscriptions,
      trackingAttribute: esps.actito.trackingAttribute,
    },
    generic: {
      esp: config.generic.esp,
      events: config.generic.events,
      channelTypes: esps.crossengage.channelTypes,
    },
  };
}

const normaliseIp = (ip: string) => ip.replace(/^::ffff:/i, '');

export function registerWebhookRoutes(
  app: FastifyInstance,
  ctx: AppContext,
  config: WebhookConfig,
  options: WebhookRouteOptions = {},
): WebhookStats {
  const now = options.now ?? Date.now;
  const settings = webhookParseSettings(ctx, config);
  const counts: Record<string, Partial<Record<WebhookOutcome, number>>> = {};
  const count = (endpoint: WebhookEndpoint, outcome: WebhookOutcome, n = 1) => {
    if (n <= 0) return;
    const perEndpoint = counts[endpoint] ?? {};
    counts[endpoint] = perEndpoint;
    perEndpoint[outcome] = (perEndpoint[outcome] ?? 0) + n;
    options.onOutcome?.(endpoint, outcome, n);
  };
  const replayTtlS = 2 * config.maxSkewS + 60;
  const replayKey = (endpoint: WebhookEndpoint, key: string) =>
    `${ctx.runtime.prefix}:webhook-delivery:${endpoint}:${key}`;

  const endpoints: {
    name: WebhookEndpoint;
    path: string;
    endpoint: WebhookEndpointConfig;
    allowedIps: readonly string[];
    parse: (body: unknown, s: WebhookParseSettings) => WebhookItem[];
  }[] = [
    {
      name: 'optimizely-campaign',
      path: '/v1/webhooks/optimizely-campaign',
      endpoint: config.optimizely,
      allowedIps: config.optimizely.allowedIps.map(normaliseIp),
      parse: WEBHOOK_PARSERS['optimizely-campaign'],
    },
    {
      name: 'actito',
      path: '/v1/webhooks/actito',
      endpoint: config.actito,
      allowedIps: [],
      parse: WEBHOOK_PARSERS.actito,
    },
    {
      name: 'generic',
      path: '/v1/webhooks/generic',
      endpoint: config.generic,
      allowedIps: [],
      parse: WEBHOOK_PARSERS.crossengage,
    },
  ];

  /** Stores the opt-outs; an eventId already used for a different body counts as a duplicate (logged). */
  async function record(
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

  function handler(def: (typeof endpoints)[number]) {
    const { name, endpoint } = def;
    return async (request: FastifyRequest, reply: FastifyReply) => {
      if (endpoint.secrets.length === 0) {
        count(name, 'disabled');
        return reply.code(404).send(errorBody('not_found', `no route POST ${def.path}`));
      }
      if (def.allowedIps.length > 0 && !def.allowedIps.includes(normaliseIp(request.ip))) {
        count(name, 'forbidden');
        request.log.warn({ webhook: name, ip: request.ip }, 'webhook from an IP that is not allowed');
        return reply.code(403).send(errorBody('forbidden', 'this client may not call the webhook'));
      }
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const verdict = verifyWebhook(endpoint.auth, {
        secrets: endpoint.secrets,
        rawBody,
        headers: request.headers,
        nowMs: now(),
        maxSkewS: config.maxSkewS,
      });
      if (!verdict.ok) {
        count(name, 'unauthorized');
        request.log.warn(
          { webhook: name, reason: verdict.reason, deliveryId: request.headers[WEBHOOK_HEADERS.id] },
          'webhook rejected: authentication failed',
        );
        return reply
          .code(401)
          .send(
            errorBody(
              'unauthorized',
              'webhook authentication failed: missing or wrong signature or credentials, or a timestamp outside the allowed window',
            ),
          );
      }
      const deliveryKey = verdict.replayKey ? replayKey(name, verdict.replayKey) : undefined;
      if (deliveryKey) {
        const seen = await withTimeout(ctx.runtime.producer.exists(deliveryKey), REDIS_TIMEOUT_MS).catch(
          (err: unknown) => {
            request.log.warn(
              { err, webhook: name },
              'webhook replay check unavailable; relying on eventId deduplication',
            );
            return 0;
          },
        );
        if (seen === 1) {
          count(name, 'replay');
          request.log.info(
            { webhook: name, deliveryId: request.headers[WEBHOOK_HEADERS.id] },
            'webhook delivery replayed; ignored',
          );
          return reply
            .code(202)
            .send({ status: 'replay', received: 0, accepted: 0, duplicates: 0, ignored: 0, events: [] });
        }
      }
      let body: unknown;
      try {
        body = JSON.parse(rawBody.toString('utf8'));
      } catch {
        count(name, 'invalid');
        return reply
          .code(400)
          .send(
            errorBody('invalid_json', 'the body is not JSON', [
              { field: '(body)', rule: 'must be a JSON document' },
            ]),
          );
      }
      let items: WebhookItem[];
      try {
        items = def.parse(body, settings);
      } catch (err) {
        if (!(err instanceof WebhookPayloadError)) throw err;
        count(name, 'invalid');
        request.log.warn({ webhook: name, problems: err.problems }, 'webhook rejected: malformed payload');
        return reply
          .code(400)
          .send(errorBody('validation_failed', 'the webhook payload was not stored', err.problems));
      }
      const events = items.flatMap((i) => (i.kind === 'opt_out' ? [i.event] : []));
      const ignored = items.flatMap((i) =>
        i.kind === 'ignored' ? [{ index: i.index, type: i.type, reason: i.reason }] : [],
      );
      let results: RecordResult[] = [];
      try {
        results = events.length > 0 ? await record(request, name, events) : [];
      } catch (err) {
        if (!(err instanceof EventValidationError)) throw err;
        count(name, 'invalid');
        return reply
          .code(400)
          .send(errorBody('validation_failed', 'the webhook payload was not stored', err.problems));
      }
      if (deliveryKey) {
        await withTimeout(
          ctx.runtime.producer.set(deliveryKey, '1', 'EX', replayTtlS, 'NX'),
          REDIS_TIMEOUT_MS,
        ).catch((err: unknown) =>
          request.log.warn({ err, webhook: name }, 'could not remember the webhook delivery'),
        );
      }
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
    for (const def of endpoints) {
      scope.post(def.path, { bodyLimit: config.bodyLimitBytes }, handler(def));
    }
  });

  return { snapshot: () => structuredClone(counts) };
}
