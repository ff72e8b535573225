import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebhookConfig, type WebhookConfig } from '../../config/webhooks.js';
import { startWorkers } from '../../src/app/workers.js';
import { QUEUE_APPLY } from '../../src/queues/names.js';
import { signedHeaders } from '../../src/ingest/webhook-verify.js';
import { type SimulatorHandle, simulatorCredentials, startSimulator } from '../../src/simulators/index.js';
import { registerConsentRoutes } from '../../src/web/consent.routes.js';
import { registerErrorHandler } from '../../src/web/errors.js';
import { registerUnsubscribeRoutes } from '../../src/web/unsubscribe.routes.js';
import { registerWebhookRoutes, type WebhookStats } from '../../src/web/webhooks.routes.js';
import { createTestContext } from '../support/integration.js';
import { waitFor } from '../support/wait-for.js';

/**
 * ESP webhooks over real HTTP on real Redis + MongoDB. Own fixture (not startTestApp): the routes
 * must be registered before the app listens, and a bare app (error handler + consent routes + ours)
 * keeps this file valid whether or not createApp registers these routes itself.
 */

const SECRETS = {
  WEBHOOK_SECRET_OPTIMIZELY: 'it-optimizely-key-0123456789',
  WEBHOOK_SECRET_ACTITO: 'it-actito-hmac-0123456789',
  WEBHOOK_SECRET_GENERIC: 'it-generic-hmac-0123456789',
};
const ENV = { ...SECRETS, ACTITO_SUBSCRIPTIONS: 'email:Newsletter' };

type Ctx = Awaited<ReturnType<typeof createTestContext>>;

interface Fixture {
  ctx: Ctx;
  app: FastifyInstance;
  url: string;
  stats: WebhookStats;
  config: WebhookConfig;
}

/** The routes this file tests on an otherwise bare app. */
function bareApp(ctx: Ctx): FastifyInstance {
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'web' }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
  });
  registerErrorHandler(app);
  registerConsentRoutes(app, ctx);
  return app;
}

async function startWebhookApp(env: Record<string, string>): Promise<Fixture> {
  const ctx = await createTestContext(env);
  const config = buildWebhookConfig(env);
  const app = bareApp(ctx);
  const stats = registerWebhookRoutes(app, ctx, config);
  registerUnsubscribeRoutes(app, ctx, config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  startWorkers(ctx, { queues: [QUEUE_APPLY] });
  return { ctx, app, url, stats, config };
}

async function post(url: string, raw: string, headers: Record<string, string>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: raw,
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, body };
}

const now = () => Math.floor(Date.now() / 1000);

describe('ESP webhooks → opt_out events', () => {
  let f: Fixture;
  const contactView = async (email: string) => {
    const res = await fetch(`${f.url}/v1/contacts/email:${encodeURIComponent(email)}`);
    return res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
  };
  const optedOutView = (email: string, channel = 'email') =>
    waitFor(
      async () => {
        const view = await contactView(email);
        const effective = view?.['effective'] as { marketing: Record<string, string> } | undefined;
        // The audit record is written right after the contact: wait for both.
        return effective?.marketing[channel] === 'opted_out' &&
          ((view?.['audit'] as unknown[] | undefined)?.length ?? 0) > 0
          ? view
          : undefined;
      },
      { what: `${email} opted out of ${channel}` },
    );

  beforeAll(async () => {
    f = await startWebhookApp(ENV);
  });
  afterAll(async () => {
    await f?.app.close();
    await f?.ctx.dispose();
  });

  describe('Optimizely Campaign (keyAuth, X-Webhook-Key)', () => {
    const endpoint = () => `${f.url}/v1/webhooks/optimizely-campaign`;
    const payload = {
      type: 'unsubscribe',
      clientId: '200100',
      recipientId: 'opti@example.com',
      recipientListId: '100200300',
      mailingId: null,
      mediaType: 'GLOBAL',
      reason: 'list_unsubscribe',
      created: '2026-11-20T10:15:00.000Z',
    };

    it('stores an opt_out that reaches the contact view with source esp:optimizely-campaign', async () => {
      const res = await post(endpoint(), JSON.stringify(payload), {
        'x-webhook-key': SECRETS.WEBHOOK_SECRET_OPTIMIZELY,
      });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ status: 'accepted', accepted: 1, duplicates: 0, ignored: 0 });
      const view = await optedOutView('opti@example.com');
      expect(view['listings']).toEqual([
        expect.objectContaining({
          source: 'esp:optimizely-campaign',
          value: 'opt_out',
          channel: 'email',
          moment: '2026-11-20T10:15:00.000Z',
        }),
      ]);
      expect(view['audit']).toEqual([
        expect.objectContaining({ source: 'esp:optimizely-campaign', outcome: 'applied' }),
      ]);
    });

    it('a redelivery is a duplicate: one stored event, one audit record', async () => {
      const res = await post(endpoint(), JSON.stringify(payload, null, 2), {
        'x-webhook-key': SECRETS.WEBHOOK_SECRET_OPTIMIZELY,
      });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ status: 'duplicate', accepted: 0, duplicates: 1 });
      const eventId = (res.body['events'] as { eventId: string }[])[0]?.eventId;
      expect(await f.ctx.models.events.countDocuments({ _id: eventId })).toBe(1);
      await waitFor(async () => (await f.ctx.models.audit.countDocuments({ _id: eventId })) === 1, {
        what: 'audit record',
      });
      const view = await contactView('opti@example.com');
      expect(view?.['audit']).toHaveLength(1);
    });

    it('a wrong or missing key is 401 and stores nothing', async () => {
      const other = { ...payload, recipientId: 'nokey@example.com' };
      expect(
        (await post(endpoint(), JSON.stringify(other), { 'x-webhook-key': 'wrong-key-0123456789' })).status,
      ).toBe(401);
      expect((await post(endpoint(), JSON.stringify(other), {})).status).toBe(401);
      expect(await f.ctx.models.events.countDocuments({ 'contact.email': 'nokey@example.com' })).toBe(0);
    });

    it('irrelevant and subscribe types are 202 ignored and counted; nobody is re-subscribed', async () => {
      const key = { 'x-webhook-key': SECRETS.WEBHOOK_SECRET_OPTIMIZELY };
      const open = await post(
        endpoint(),
        JSON.stringify({ type: 'open', recipientId: 'opti@example.com' }),
        key,
      );
      expect(open).toMatchObject({
        status: 202,
        body: { status: 'ignored', ignored: 1, ignoredItems: [{ type: 'open', reason: 'irrelevant_type' }] },
      });
      const optin = await post(
        endpoint(),
        JSON.stringify({ type: 'doubleoptin', recipientId: 'opti@example.com' }),
        key,
      );
      expect(optin.body).toMatchObject({
        status: 'ignored',
        ignoredItems: [{ reason: 'resubscribe_ignored' }],
      });
      expect(f.stats.snapshot()['optimizely-campaign']).toMatchObject({ ignored: 2 });
      expect(await f.ctx.models.events.countDocuments({ value: 'opt_in' })).toBe(0);
    });

    it('a malformed unsubscribe is 400 naming the field', async () => {
      const res = await post(endpoint(), JSON.stringify({ ...payload, created: 'last tuesday' }), {
        'x-webhook-key': SECRETS.WEBHOOK_SECRET_OPTIMIZELY,
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'validation_failed', problems: [{ field: 'created' }] });
      const notJson = await post(endpoint(), '{"type":', {
        'x-webhook-key': SECRETS.WEBHOOK_SECRET_OPTIMIZELY,
      });
      expect(notJson).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
    });
  });

  describe('generic, CrossEngage-style (HMAC)', () => {
    const endpoint = () => `${f.url}/v1/webhooks/generic`;
    const event = {
      id: 'ce-evt-100',
      event: 'mail.unsubscribe',
      timestamp: '2026-11-21T08:00:00Z',
      user: { externalId: 'ce-user-1', email: 'ce@example.com' },
      properties: { reason: 'list_unsubscribe' },
    };
    const raw = JSON.stringify(event);

    it('a signed event becomes an opt_out with source esp:crossengage', async () => {
      const headers = signedHeaders(SECRETS.WEBHOOK_SECRET_GENERIC, raw, now(), 'delivery-1');
      const res = await post(endpoint(), raw, headers);
      expect(res).toMatchObject({ status: 202, body: { status: 'accepted', accepted: 1 } });
      const view = await optedOutView('ce@example.com');
      expect(view['listings']).toEqual([
        expect.objectContaining({ source: 'esp:crossengage', moment: '2026-11-21T08:00:00.000Z' }),
      ]);
      // The exact same delivery again (same timestamp + signature) is a replay: a 2xx no-op.
      const replay = await post(endpoint(), raw, headers);
      expect(replay).toMatchObject({ status: 202, body: { status: 'replay', accepted: 0 } });
    });

    it('a re-signed redelivery is a duplicate (one audit record)', async () => {
      const res = await post(
        endpoint(),
        raw,
        signedHeaders(SECRETS.WEBHOOK_SECRET_GENERIC, raw, now() + 1, 'delivery-2'),
      );
      expect(res).toMatchObject({ status: 202, body: { status: 'duplicate', duplicates: 1 } });
      const eventId = (res.body['events'] as { eventId: string }[])[0]?.eventId;
      await waitFor(async () => (await f.ctx.models.audit.countDocuments({ _id: eventId })) === 1, {
        what: 'audit record',
      });
      expect(await f.ctx.models.audit.countDocuments({ source: 'esp:crossengage' })).toBe(1);
    });

    it('a bad signature, a tampered body and a stale or future timestamp are 401; nothing is stored', async () => {
      const other = JSON.stringify({ ...event, id: 'ce-evt-401', user: { email: 'reject@example.com' } });
      const wrongSecret = signedHeaders('not-the-secret-0123456789', other, now());
      expect((await post(endpoint(), other, wrongSecret)).status).toBe(401);
      const signed = signedHeaders(SECRETS.WEBHOOK_SECRET_GENERIC, other, now());
      expect((await post(endpoint(), other.replace('reject', 'rejekt'), signed)).status).toBe(401);
      const stale = signedHeaders(SECRETS.WEBHOOK_SECRET_GENERIC, other, now() - 301);
      const res = await post(endpoint(), other, stale);
      expect(res).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
      expect(
        (await post(endpoint(), other, signedHeaders(SECRETS.WEBHOOK_SECRET_GENERIC, other, now() + 301)))
          .status,
      ).toBe(401);
      expect((await post(endpoint(), other, {})).status).toBe(401);
      expect(await f.ctx.models.events.countDocuments({ 'contact.email': 'reject@example.com' })).toBe(0);
      expect(f.stats.snapshot()['generic']?.unauthorized).toBeGreaterThanOrEqual(5);
    });

    it('a body over WEBHOOK_BODY_LIMIT_BYTES is 413', async () => {
      const big = JSON.stringify({ ...event, pad: 'x'.repeat(f.config.bodyLimitBytes) });
      const res = await post(endpoint(), big, signedHeaders(SECRETS.WEBHOOK_SECRET_GENERIC, big, now()));
      expect(res.status).toBe(413);
    });
  });

  describe('Actito (HMAC)', () => {
    const endpoint = () => `${f.url}/v1/webhooks/actito`;
    it('UPDATED_SUBSCRIPTION with subscribe=false becomes an opt_out; subscribe=true is ignored', async () => {
      const body = {
        eventType: 'UPDATED_SUBSCRIPTION',
        entity: 'sim',
        profileTable: 'contacts',
        moment: '2026-11-22T09:00:00.000Z',
        profileId: 41,
        uniqueIds: { emailAddress: 'actito@example.com' },
        subscriptions: [{ name: 'Newsletter', subscribe: false }],
      };
      const raw = JSON.stringify(body);
      const res = await post(endpoint(), raw, signedHeaders(SECRETS.WEBHOOK_SECRET_ACTITO, raw));
      expect(res).toMatchObject({ status: 202, body: { accepted: 1 } });
      await optedOutView('actito@example.com');
      const resub = JSON.stringify({
        ...body,
        moment: '2026-11-22T10:00:00.000Z',
        subscriptions: [{ name: 'Newsletter', subscribe: true }],
      });
      const ignored = await post(endpoint(), resub, signedHeaders(SECRETS.WEBHOOK_SECRET_ACTITO, resub));
      expect(ignored.body).toMatchObject({
        status: 'ignored',
        ignoredItems: [{ reason: 'resubscribe_ignored' }],
      });
      const view = await contactView('actito@example.com');
      expect(
        (view?.['effective'] as { marketing: Record<string, string> } | undefined)?.marketing['email'],
      ).toBe('opted_out');
    });
  });

  describe('disabled endpoints and IP allow-list', () => {
    it('an endpoint without a secret answers 404; an IP outside WEBHOOK_OPTIMIZELY_ALLOWED_IPS gets 403', async () => {
      const app = bareApp(f.ctx);
      registerWebhookRoutes(
        app,
        f.ctx,
        buildWebhookConfig({
          WEBHOOK_SECRET_OPTIMIZELY: SECRETS.WEBHOOK_SECRET_OPTIMIZELY,
          WEBHOOK_OPTIMIZELY_ALLOWED_IPS: '193.169.180.1',
        }),
      );
      try {
        const actito = await app.inject({
          method: 'POST',
          url: '/v1/webhooks/actito',
          payload: { eventType: 'UPDATE' },
        });
        expect(actito.statusCode).toBe(404);
        const opti = await app.inject({
          method: 'POST',
          url: '/v1/webhooks/optimizely-campaign',
          headers: { 'x-webhook-key': SECRETS.WEBHOOK_SECRET_OPTIMIZELY },
          payload: { type: 'open' },
        });
        expect(opti.statusCode).toBe(403);
      } finally {
        await app.close();
      }
    });
  });

  describe('driven by the ESP simulators', () => {
    let actito: SimulatorHandle;
    let optimizely: SimulatorHandle;

    beforeAll(async () => {
      // The Actito simulator signs with our HMAC scheme when given a secret (Actito documents no scheme).
      actito = await startSimulator('actito', { webhookSecret: SECRETS.WEBHOOK_SECRET_ACTITO });
      optimizely = await startSimulator('optimizely-campaign');
    });
    afterAll(async () => {
      await actito?.close();
      await optimizely?.close();
    });

    const control = async (sim: SimulatorHandle, path: string, body: unknown) => {
      const res = await fetch(`${sim.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, `${sim.name} ${path}`).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };

    it('Actito: /__sim/unsubscribe → signed UPDATED_SUBSCRIPTION webhook → opt_out with source esp:actito', async () => {
      await control(actito, '/__sim/seed', {
        profiles: [
          {
            attributes: { emailAddress: 'sim-actito@example.com', marketingConsent: true },
            subscriptions: { Newsletter: true },
          },
        ],
      });
      await control(actito, '/__sim/webhook-target', { url: `${f.url}/v1/webhooks/actito` });
      const result = await control(actito, '/__sim/unsubscribe', {
        recipient: 'sim-actito@example.com',
        channel: 'email',
        type: 'unsubscribe_link',
      });
      expect(result['webhook']).toBe(true);
      const view = await optedOutView('sim-actito@example.com');
      expect(view['listings']).toEqual([
        expect.objectContaining({ source: 'esp:actito', value: 'opt_out', channel: 'email' }),
      ]);
      const deliveries =
        (actito.state() as { webhooks?: { deliveries: { status: number | null }[] } }).webhooks?.deliveries ??
        [];
      expect(deliveries.map((d) => d.status)).toContain(202);
    });

    it('Optimizely: webhook registered over REST with keyAuth → /__sim/unsubscribe → opt_out with source esp:optimizely-campaign', async () => {
      const creds = simulatorCredentials['optimizely-campaign'];
      const register = await fetch(`${optimizely.url}/rest/${creds.clientId}/webhooks`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${creds.apiUser}:${creds.apiPassword}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({
          type: 'unsubscribe',
          format: 'json',
          targetUrl: `${f.url}/v1/webhooks/optimizely-campaign`,
          authentication: JSON.stringify({
            type: 'keyAuth',
            key: 'X-Webhook-Key',
            passphrase: SECRETS.WEBHOOK_SECRET_OPTIMIZELY,
          }),
        }).toString(),
      });
      expect(register.status).toBe(201);
      const result = await control(optimizely, '/__sim/unsubscribe', {
        recipient: 'sim-opti@example.com',
        channel: 'email',
      });
      expect(result['webhook']).toBe(true);
      const view = await optedOutView('sim-opti@example.com');
      expect(view['listings']).toEqual([
        expect.objectContaining({ source: 'esp:optimizely-campaign', value: 'opt_out', channel: 'email' }),
      ]);
      const listing = (view['listings'] as { eventId: string }[])[0];
      const stored = await f.ctx.models.events.findById(listing?.eventId).lean();
      expect(stored?.properties).toMatchObject({
        type: 'list_unsubscribe',
        webhookType: 'unsubscribe',
        mediaType: 'GLOBAL',
      });
    });
  });
});
