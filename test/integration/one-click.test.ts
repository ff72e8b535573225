import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebhookConfig } from '../../config/webhooks.js';
import { startWorkers } from '../../src/app/workers.js';
import { QUEUE_APPLY } from '../../src/queues/names.js';
import { createUnsubscribeToken, listUnsubscribeHeaders } from '../../src/ingest/one-click.js';
import { registerConsentRoutes } from '../../src/web/consent.routes.js';
import { registerErrorHandler } from '../../src/web/errors.js';
import { registerUnsubscribeRoutes } from '../../src/web/unsubscribe.routes.js';
import { registerWebhookRoutes } from '../../src/web/webhooks.routes.js';
import { createTestContext } from '../support/integration.js';
import { waitFor } from '../support/wait-for.js';

/** RFC 8058 one-click unsubscribe over real HTTP on real Redis + MongoDB (own fixture: routes before listen). */

type Ctx = Awaited<ReturnType<typeof createTestContext>>;

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const ONE_CLICK = 'List-Unsubscribe=One-Click';

describe('one-click unsubscribe (POST /u/:token, GET never unsubscribes)', () => {
  let ctx: Ctx;
  let app: FastifyInstance;
  let url: string;
  let secret: string;

  beforeAll(async () => {
    const env = { PUBLIC_BASE_URL: 'https://consent.example.test' };
    ctx = await createTestContext(env);
    secret = ctx.config.unsubscribeSecret;
    const config = buildWebhookConfig(env);
    // A bare app (error handler + consent routes + ours), valid whether or not createApp registers these routes.
    app = Fastify({ loggerInstance: ctx.log.child({ component: 'web' }) as FastifyBaseLogger });
    registerErrorHandler(app);
    registerConsentRoutes(app, ctx);
    registerWebhookRoutes(app, ctx, config);
    registerUnsubscribeRoutes(app, ctx, config);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    startWorkers(ctx, { queues: [QUEUE_APPLY] });
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.dispose();
  });

  /** The path of the https URI of a List-Unsubscribe header made by the helper. */
  const linkFor = (contactKey: string, channel = 'email', listId?: string) => {
    const headers = listUnsubscribeHeaders({ contactKey, ...(listId ? { listId } : {}) }, channel, {
      publicBaseUrl: 'https://consent.example.test',
      secret,
    });
    expect(headers['List-Unsubscribe-Post']).toBe(ONE_CLICK);
    const match = /^<https:\/\/consent\.example\.test(\/u\/[A-Za-z0-9_-]+)>$/.exec(
      headers['List-Unsubscribe'],
    );
    expect(match).not.toBeNull();
    return match?.[1] ?? '';
  };
  const view = async (identity: string) => {
    const res = await fetch(`${url}/v1/contacts/${identity}`);
    return res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
  };
  const effectiveEmail = async (identity: string) =>
    ((await view(identity))?.['effective'] as { marketing: Record<string, string> } | undefined)?.marketing[
      'email'
    ];

  it('GET shows a confirmation form that POSTs, and never unsubscribes', async () => {
    const path = linkFor('email:scanner@example.com');
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}${path}`, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const html = await res.text();
      expect(html).toMatch(/<form method="post" action="[A-Za-z0-9_-]+">/);
      expect(html).toContain('name="List-Unsubscribe" value="One-Click"');
      expect(html).not.toContain('scanner@example.com');
    }
    expect((await fetch(`${url}${path}`, { method: 'HEAD' })).status).toBe(200);
    expect(await ctx.models.events.countDocuments({})).toBe(0);
    expect(await view('email:scanner@example.com')).toBeUndefined();
  });

  it('POST List-Unsubscribe=One-Click records an opt_out (source list_unsubscribe) before answering 200', async () => {
    const path = linkFor('email:Click@Example.com', 'email', 'newsletter');
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: FORM,
      body: ONE_CLICK,
      redirect: 'manual',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.headers.get('x-unsubscribe-status')).toBe('accepted');
    expect(await res.text()).toMatch(/unsubscribed/i);
    // Stored before the 200:
    const stored = await ctx.models.events
      .find({ source: 'list_unsubscribe', 'contact.email': 'click@example.com' })
      .lean();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      _id: expect.stringMatching(/^lu:[0-9a-f]{40}:\d{8}$/),
      kind: 'marketing',
      channel: 'email',
      value: 'opt_out',
      properties: { type: 'list_unsubscribe', listId: 'newsletter' },
      way: { mechanism: 'rfc8058_one_click' },
    });
    await waitFor(async () => (await effectiveEmail('email:click@example.com')) === 'opted_out', {
      what: 'opt-out applied',
    });
    const v = await view('email:click@example.com');
    expect(v?.['listings']).toEqual([
      expect.objectContaining({ source: 'list_unsubscribe', value: 'opt_out', channel: 'email' }),
    ]);
  });

  it('a one-click body ending in CRLF (as the header line it copies) unsubscribes too', async () => {
    const path = linkFor('email:crlf@example.com');
    const res = await fetch(`${url}${path}`, { method: 'POST', headers: FORM, body: `${ONE_CLICK}\r\n` });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-unsubscribe-status')).toBe('accepted');
    await waitFor(async () => (await effectiveEmail('email:crlf@example.com')) === 'opted_out', {
      what: 'opt-out applied',
    });
  });

  it('a repeated POST (same link) is a duplicate: one event, one audit record', async () => {
    const path = linkFor('email:twice@example.com');
    const first = await fetch(`${url}${path}`, { method: 'POST', headers: FORM, body: ONE_CLICK });
    expect(first.headers.get('x-unsubscribe-status')).toBe('accepted');
    const second = await fetch(`${url}${path}`, { method: 'POST', headers: FORM, body: ONE_CLICK });
    expect(second.status).toBe(200);
    expect(second.headers.get('x-unsubscribe-status')).toBe('duplicate');
    await waitFor(async () => (await effectiveEmail('email:twice@example.com')) === 'opted_out', {
      what: 'opt-out applied',
    });
    expect(await ctx.models.events.countDocuments({ 'contact.email': 'twice@example.com' })).toBe(1);
    await waitFor(
      async () => (await ctx.models.audit.countDocuments({ 'identity.email': 'twice@example.com' })) === 1,
      {
        what: 'one audit record',
      },
    );
  });

  it('the confirmation form submission (browser, multipart too) unsubscribes', async () => {
    const path = linkFor('externalId:form-user-1', 'sms');
    const form = new FormData();
    form.set('List-Unsubscribe', 'One-Click');
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      body: form,
      headers: { accept: 'text/html' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    await waitFor(
      async () =>
        (
          (await view('externalId:form-user-1'))?.['effective'] as
            | { marketing: Record<string, string> }
            | undefined
        )?.marketing['sms'] === 'opted_out',
      { what: 'sms opt-out applied' },
    );
  });

  it('a token referencing our contact id (no PII in the link) unsubscribes that contact', async () => {
    await fetch(`${url}/v1/consent-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        eventId: 'ref-optin-1',
        contact: { externalId: 'ref-user', email: 'ref@example.com' },
        kind: 'marketing',
        channel: 'email',
        value: 'opt_in',
        source: 'form',
        moment: '2026-11-01T00:00:00Z',
      }),
    });
    await waitFor(async () => (await effectiveEmail('email:ref@example.com')) === 'opted_in', {
      what: 'opt-in applied',
    });
    const contactId = (await view('email:ref@example.com'))?.['contactId'] as string;
    const path = linkFor(`contact:${contactId}`);
    const res = await fetch(`${url}${path}`, { method: 'POST', headers: FORM, body: ONE_CLICK });
    expect(res.status).toBe(200);
    await waitFor(async () => (await effectiveEmail('email:ref@example.com')) === 'opted_out', {
      what: 'opt-out applied',
    });
  });

  it('other bodies are 400 and unsubscribe nobody', async () => {
    const path = linkFor('email:wrongbody@example.com');
    const bodies: [Record<string, string>, string][] = [
      [FORM, ''],
      [FORM, 'List-Unsubscribe=one-click'],
      [FORM, 'unsubscribe=yes'],
      [{ 'content-type': 'application/json' }, '{"List-Unsubscribe":"One-Click"}'],
      [{ 'content-type': 'text/plain' }, ONE_CLICK],
    ];
    for (const [headers, body] of bodies) {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers, body });
      expect(res.status, `${headers['content-type']} ${body}`).toBe(400);
    }
    expect((await fetch(`${url}${path}`, { method: 'POST' })).status).toBe(400);
    expect(await ctx.models.events.countDocuments({ 'contact.email': 'wrongbody@example.com' })).toBe(0);
  });

  it('a bad or tampered token is 404 "invalid link" on GET and POST, revealing nothing more', async () => {
    const path = linkFor('email:tamper@example.com');
    const token = path.slice(3);
    const flipped = token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11);
    const otherSecret = createUnsubscribeToken(
      { contactKey: 'email:tamper@example.com', channel: 'email' },
      'some-other-secret-0123456789abcdef',
    );
    for (const bad of [flipped, otherSecret, 'garbage', `${token}x`]) {
      const get = await fetch(`${url}/u/${bad}`);
      expect(get.status).toBe(404);
      expect(await get.text()).toMatch(/invalid/i);
      const res = await fetch(`${url}/u/${bad}`, { method: 'POST', headers: FORM, body: ONE_CLICK });
      expect(res.status).toBe(404);
      expect(await res.text()).toBe('invalid link\n');
    }
    expect(await ctx.models.events.countDocuments({ 'contact.email': 'tamper@example.com' })).toBe(0);
  });
});
