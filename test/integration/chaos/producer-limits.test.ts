import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsentClient, ConsentClientError } from '../../../src/client/index.js';
import { freePort } from '../../../src/dev/child.js';
import { startLocalRedis, type LocalRedis } from '../../../src/dev/redis-server.js';
import { METRIC_NAMES } from '../../../src/metrics/metrics.js';
import { QUEUE_APPLY } from '../../../src/queues/names.js';
import { startTestApp } from '../../support/app.js';
import { isolatedEnv } from '../../support/integration.js';
import { spawnEntry } from '../../support/processes.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * reliability.md test 24 and issue 8 item 10: producer API keys (401, constant-time compare,
 * nothing stored), the Redis-counted producer rate limit (429 with Retry-After, separate budgets,
 * reset after the window, Redis down), and an injection fuzz over every producer API field.
 */

type App = Awaited<ReturnType<typeof startTestApp>>;

const SHOP = 'shop-secret-0123456789abcdef';
const CRM = 'crm-secret-abcdefghijklmnopqrstuvwxyz';
const KEYS = `shop:${SHOP},crm:${CRM}`;

const event = (eventId: string) => ({
  eventId,
  contact: { externalId: `user-${eventId}`, email: `${eventId}@example.com` },
  kind: 'marketing' as const,
  channel: 'email',
  value: 'opt_out' as const,
  source: 'api',
  moment: '2026-11-01T00:00:00Z',
});

async function send(app: App, method: string, path: string, opts: { key?: string; authorization?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.key) headers['authorization'] = `Bearer ${opts.key}`;
  if (opts.authorization !== undefined) headers['authorization'] = opts.authorization;
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers,
    ...(opts.body === undefined ? {} : { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // NDJSON, HTML, metrics text
  }
  return { status: res.status, headers: res.headers, text, body };
}

const stored = async (app: App, eventId: string) => (await app.ctx.models.events.countDocuments({ _id: eventId })) === 1;

async function guardCount(app: App, outcome: string): Promise<number> {
  const metric = await app.ctx.metrics.registry.getSingleMetric(METRIC_NAMES.producerGuard)?.get();
  return metric?.values.find((v) => v.labels['outcome'] === outcome)?.value ?? 0;
}

describe('producer API keys', () => {
  let app: App;
  beforeAll(async () => {
    app = await startTestApp({ env: { PRODUCER_API_KEYS: KEYS } });
  });
  afterAll(async () => app?.close());

  it.each([
    ['no Authorization header', undefined],
    ['a wrong key of the same length', `Bearer ${'x'.repeat(SHOP.length)}`],
    ['a key of a different length', `Bearer ${SHOP}0`],
    ['a prefix of a key', `Bearer ${SHOP.slice(0, 24)}`],
    ['the right key with the Basic scheme', `Basic ${SHOP}`],
    ['the key name instead of the secret', 'Bearer shop'],
    ['an empty bearer token', 'Bearer '],
  ])('%s → 401 naming the header, secret not echoed, nothing stored', async (_name, authorization) => {
    const eventId = `unauth-${authorization?.length ?? 0}-${(authorization ?? 'none').slice(0, 5).replace(/\W/g, '')}`;
    const before = await guardCount(app, 'unauthorized');
    const res = await send(app, 'POST', '/v1/consent-events', { body: event(eventId), ...(authorization === undefined ? {} : { authorization }) });
    expect(res.status).toBe(401);
    expect(res.body['error']).toBe('unauthorized');
    expect(res.body['problems']).toEqual([{ field: 'authorization', rule: expect.stringContaining('Bearer <API key>') }]);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(res.text).not.toContain(SHOP.slice(0, 10));
    expect(res.text).not.toContain('xxxxxxxx');
    expect(await stored(app, eventId)).toBe(false);
    expect(await app.ctx.runtime.queue(QUEUE_APPLY).count()).toBe(0);
    expect(await guardCount(app, 'unauthorized')).toBe(before + 1);
  });

  it('each configured key records events (202); the scheme is case-insensitive', async () => {
    expect((await send(app, 'POST', '/v1/consent-events', { key: SHOP, body: event('auth-shop') })).status).toBe(202);
    expect((await send(app, 'POST', '/v1/consent-events', { authorization: `bearer ${CRM}`, body: event('auth-crm') })).status).toBe(202);
    expect(await stored(app, 'auth-shop')).toBe(true);
    expect(await stored(app, 'auth-crm')).toBe(true);
  });

  it('the read endpoints and reconciliation runs need a key too', async () => {
    for (const path of ['/v1/contacts/externalId:user-auth-shop', '/v1/consent-changes?since=2000-01-01T00:00:00Z', '/v1/reconciliation/runs']) {
      expect((await send(app, 'GET', path)).status, path).toBe(401);
      expect((await send(app, 'GET', path, { key: `${CRM}x` })).status, path).toBe(401);
      expect([200, 404], path).toContain((await send(app, 'GET', path, { key: CRM })).status);
    }
    expect((await send(app, 'POST', '/v1/reconciliation/runs', { body: { esp: 'all' } })).status).toBe(401);
  });

  it('a body over the size limit without a key is refused before it is read (401); with a key → 413', async () => {
    const big = { ...event('too-big'), properties: { big: 'x'.repeat(1_100_000) } };
    expect((await send(app, 'POST', '/v1/consent-events', { body: big })).status).toBe(401);
    expect((await send(app, 'POST', '/v1/consent-events', { key: SHOP, body: big })).status).toBe(413);
    expect(await stored(app, 'too-big')).toBe(false);
  });

  it('health, metrics and Bull Board keep their own authentication', async () => {
    expect((await send(app, 'GET', '/healthz')).status).toBe(200);
    expect((await send(app, 'GET', '/metrics')).status).toBe(200);
    const board = await send(app, 'GET', '/admin/queues', { key: SHOP });
    expect(board.status).toBe(401);
    expect(board.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  it('the typed client sends its apiKey; without one it fails with the 401 at once', async () => {
    const client = new ConsentClient({ baseUrl: app.url, apiKey: CRM });
    expect(await client.record(event('client-ok'))).toEqual({ eventId: 'client-ok', status: 'accepted' });
    const anonymous = new ConsentClient({ baseUrl: app.url });
    const err = await anonymous.record(event('client-anon')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConsentClientError);
    expect((err as ConsentClientError).status).toBe(401);
    expect((err as ConsentClientError).problems.map((p) => p.field)).toEqual(['authorization']);
    expect(await stored(app, 'client-anon')).toBe(false);
  });
});

describe('producer rate limit (3 requests per 3 s window per key)', () => {
  const WINDOW_MS = 3_000;
  let app: App;
  beforeAll(async () => {
    app = await startTestApp({
      env: { PRODUCER_API_KEYS: KEYS, PRODUCER_RATE_LIMIT_PER_MINUTE: '60', PRODUCER_RATE_LIMIT_WINDOW_MS: String(WINDOW_MS) },
    });
  });
  afterAll(async () => app?.close());

  it('the 4th write in a window → 429 with Retry-After, nothing stored; other key and reads keep their budgets; resets after the window', async () => {
    const started = Date.now();
    for (let i = 1; i <= 3; i++) {
      expect((await send(app, 'POST', '/v1/consent-events', { key: SHOP, body: event(`rl-shop-${i}`) })).status).toBe(202);
    }
    const refused = await send(app, 'POST', '/v1/consent-events', { key: SHOP, body: event('rl-shop-4') });
    const refusedAt = Date.now();
    expect(refusedAt - started, 'the four requests fit in one window').toBeLessThan(WINDOW_MS);
    expect(refused.status).toBe(429);
    const retryAfter = refused.headers.get('retry-after');
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(WINDOW_MS / 1000);
    expect(refused.body['error']).toBe('rate_limited');
    expect(refused.body['message']).toContain('API key "shop"');
    expect(refused.body['problems']).toEqual([
      { field: 'PRODUCER_RATE_LIMIT_PER_MINUTE', rule: 'at most 60 requests per minute (3 per 3000 ms window) per API key for writes' },
    ]);
    expect(await stored(app, 'rl-shop-4')).toBe(false);
    expect(await guardCount(app, 'rate_limited')).toBe(1);
    // the counter lives under the app's prefix and expires with the window
    const [counterKey] = await app.ctx.runtime.producer.keys(`${app.ctx.config.redis.prefix}:ratelimit:write:key:shop`);
    expect(counterKey).toBeDefined();
    const ttl = await app.ctx.runtime.producer.pttl(counterKey!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(WINDOW_MS);

    // another key has its own budget; the same key's reads have theirs
    expect((await send(app, 'POST', '/v1/consent-events', { key: CRM, body: event('rl-crm-1') })).status).toBe(202);
    expect((await send(app, 'GET', '/v1/consent-changes?since=2000-01-01T00:00:00Z', { key: SHOP })).status).toBe(200);

    // after the window the key is admitted again
    const again = await waitFor(
      async () => {
        const res = await send(app, 'POST', '/v1/consent-events', { key: SHOP, body: event('rl-shop-5') });
        return res.status === 202 ? Date.now() : undefined;
      },
      { timeoutMs: WINDOW_MS + 3_000, intervalMs: 250, what: 'the window to reset' },
    );
    expect(again - started).toBeGreaterThanOrEqual(WINDOW_MS - 100);
    expect(again - refusedAt).toBeLessThanOrEqual(Number(retryAfter) * 1000 + 2_000);
    expect(await stored(app, 'rl-shop-5')).toBe(true);
    expect(await app.ctx.models.events.countDocuments({})).toBe(5);
  });

  it('the typed client waits out a 429 and then records; with a small maxRetryAfterMs it fails at once', async () => {
    // spend crm's budget for this window (rl-crm-1 above may be in an older window)
    let status = 0;
    for (let i = 0; status !== 429; i++) {
      expect(i).toBeLessThan(5);
      status = (await send(app, 'POST', '/v1/consent-events', { key: CRM, body: 'not json' })).status;
    }
    const impatient = new ConsentClient({ baseUrl: app.url, apiKey: CRM, maxRetryAfterMs: 0 });
    const err = await impatient.record(event('rl-client-0')).catch((e: unknown) => e);
    expect((err as ConsentClientError).status).toBe(429);
    expect(await stored(app, 'rl-client-0')).toBe(false);
    const patient = new ConsentClient({ baseUrl: app.url, apiKey: CRM });
    expect(await patient.record(event('rl-client-1'))).toEqual({ eventId: 'rl-client-1', status: 'accepted' });
  });
});

describe('producer rate limit without keys, and with Redis down', () => {
  let redis: LocalRedis;
  let app: App;
  beforeAll(async () => {
    redis = await startLocalRedis();
    app = await startTestApp({
      // 60 requests per 10-minute window: the 61 requests of a test never straddle a window
      // boundary by chance, as they could with one-minute windows on a busy machine.
      env: { REDIS_URL: redis.url, PRODUCER_RATE_LIMIT_PER_MINUTE: '6', PRODUCER_RATE_LIMIT_WINDOW_MS: '600000' },
    });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  const spend = async (prefix: string) => {
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++) statuses.push((await send(app, 'GET', `/v1/contacts/externalId:${prefix}-${i}`)).status);
    return statuses;
  };

  it('counts per client address: the 61st read of the window → 429 naming the client address', async () => {
    const statuses = await spend('ip');
    expect(statuses.slice(0, 60).every((s) => s === 404)).toBe(true);
    expect(statuses[60]).toBe(429);
    const refused = await send(app, 'POST', '/v1/consent-events', { body: event('ip-write') });
    expect(refused.status, 'writes have their own budget').toBe(202);
    const read = await send(app, 'GET', '/v1/contacts/externalId:user-ip-write');
    expect(read.status).toBe(429);
    expect(read.body['message']).toContain('client address');
    expect(Number(read.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('Redis down: the event is stored and acknowledged (limit unchecked, counted); back up: the limit holds again', async () => {
    await redis.stop();
    await waitFor(async () => app.ctx.runtime.producer.status !== 'ready', { what: 'the producer connection to notice' });
    const res = await send(app, 'POST', '/v1/consent-events', { body: event('redis-down') });
    expect(res.status).toBe(202);
    expect(await stored(app, 'redis-down')).toBe(true);
    expect(await guardCount(app, 'limit_unchecked')).toBeGreaterThanOrEqual(1);

    redis = await startLocalRedis({ port: redis.port });
    await waitFor(async () => (await app.ctx.runtime.producer.ping()) === 'PONG', { timeoutMs: 30_000, what: 'producer reconnected' });
    const statuses = await spend('after');
    expect(statuses.slice(0, 60).every((s) => s === 404)).toBe(true);
    expect(statuses[60]).toBe(429);
  });
});

describe('the web process in production', () => {
  const production = { NODE_ENV: 'production', PUBLIC_BASE_URL: 'https://consent.example.com', LOG_LEVEL: 'info' };

  it('refuses to start without producer keys, naming PRODUCER_API_KEYS and PRODUCER_AUTH=none', async () => {
    const proc = spawnEntry('web', isolatedEnv(production));
    expect((await proc.exited).code).toBe(2);
    expect(proc.output()).toMatch(/- PRODUCER_API_KEYS: required in production.*PRODUCER_AUTH=none/);
  });

  it('with keys: starts, checks them, and logs neither a secret nor an Authorization header', async () => {
    const port = await freePort();
    const proc = spawnEntry('web', isolatedEnv({ ...production, PORT: String(port), HOST: '127.0.0.1', PRODUCER_API_KEYS: KEYS }));
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, { what: '/readyz 200', timeoutMs: 30_000 });
      const post = (authorization: string) =>
        fetch(`${url}/v1/consent-events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          body: JSON.stringify(event(`prod-${authorization.length}`)),
        }).then((r) => r.status);
      expect(await post(`Bearer ${SHOP}`)).toBe(202);
      expect(await post(`Bearer ${CRM.slice(0, -1)}`)).toBe(401);
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
    const out = proc.output();
    expect(out).toContain('web stopped');
    expect(out).toContain('"shop"');
    expect(out.match(/"request completed"/g)?.length, 'the requests were logged').toBeGreaterThanOrEqual(3);
    for (const secret of [SHOP, CRM.slice(0, -1)]) expect(out).not.toContain(secret.slice(0, 12));
    expect(out.toLowerCase()).not.toMatch(/bearer|"authorization":/);
  });
});

describe('injection fuzz over every producer API field → 400, nothing stored, Object.prototype untouched', () => {
  let app: App;
  const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
  beforeAll(async () => {
    app = await startTestApp({ env: { PRODUCER_API_KEYS: KEYS } });
  });
  afterAll(async () => app?.close());

  const operators: unknown[] = [
    { $ne: null },
    { $gt: '' },
    { $where: 'sleep(1000)' },
    { $regex: '.*' },
    { $in: ['a', 'b'] },
    [{ $ne: 1 }],
    { a: { $gt: '' } },
    { $or: [{ a: 1 }, { b: { $ne: 2 } }] },
  ];
  const scalarFields = [
    'eventId',
    'contact.externalId',
    'contact.email',
    'contact.phone',
    'contact.businessUnit',
    'kind',
    'channel',
    'value',
    'source',
    'force',
    'moment',
  ];
  const mapFields = ['way', 'proof', 'properties'];
  const set = (target: Record<string, unknown>, path: string, value: unknown) => {
    const [head, tail] = path.split('.') as [string, string | undefined];
    if (tail === undefined) target[head] = value;
    else target[head] = { ...(target[head] as Record<string, unknown>), [tail]: value };
    return target;
  };

  const bodies: [string, unknown][] = [];
  for (const field of scalarFields) {
    for (const op of operators) bodies.push([`${field} = ${JSON.stringify(op)}`, set(event('fuzz'), field, op)]);
  }
  for (const field of mapFields) {
    for (const op of operators) bodies.push([`${field}.a = ${JSON.stringify(op)}`, { ...event('fuzz'), [field]: { a: op } }]);
    for (const key of ['$where', '$gt', '$ne', 'constructor', 'prototype', 'a.$gt', '_bsontype']) {
      bodies.push([`${field} key ${key}`, { ...event('fuzz'), [field]: { [key]: 'x' } }]);
    }
    bodies.push([`${field}.constructor.prototype`, { ...event('fuzz'), [field]: { constructor: { prototype: { polluted: 'yes' } } } }]);
    bodies.push([
      `${field} raw __proto__`,
      JSON.stringify({ ...event('fuzz'), [field]: {} }).replace(`"${field}":{}`, `"${field}":{"__proto__":{"polluted":"yes"}}`),
    ]);
  }
  bodies.push(['contact raw __proto__', JSON.stringify(event('fuzz')).replace('"contact":{', '"contact":{"__proto__":{"polluted":"yes"},')]);
  bodies.push(['contact.constructor', { ...event('fuzz'), contact: { email: 'a@example.com', constructor: { prototype: { polluted: 'yes' } } } }]);
  bodies.push(['top-level raw __proto__', JSON.stringify(event('fuzz')).replace('{', '{"__proto__":{"polluted":"yes"},')]);
  bodies.push(['top-level constructor.prototype', { ...event('fuzz'), constructor: { prototype: { polluted: 'yes' } } }]);
  bodies.push(['top-level $where', { ...event('fuzz'), $where: 'sleep(1000)' }]);
  bodies.push(['events = operator', { events: { $ne: null } }]);
  bodies.push(['events[0] = operator', { events: [{ $gt: '' }] }]);
  bodies.push(['events[0].contact = operator', { events: [{ ...event('fuzz'), contact: { $ne: null } }] }]);
  bodies.push(['raw __proto__ in a batch event', `{"events":[${JSON.stringify(event('fuzz')).replace('{', '{"__proto__":{"polluted":"yes"},')}]}`]);

  // Each case has its own eventId, so one wrongly stored case cannot turn the next into a 409.
  it.each(bodies.map(([name, body], i) => [name, typeof body === 'string' ? body.replaceAll('"fuzz"', `"fuzz-${i}"`) : JSON.parse(JSON.stringify(body).replaceAll('"fuzz"', `"fuzz-${i}"`))]))(
    'POST %s → 400',
    async (_name, body) => {
      const res = await send(app, 'POST', '/v1/consent-events', { key: SHOP, body });
      expect(res.status).toBe(400);
      expect((res.body['problems'] as unknown[]).length).toBeGreaterThan(0);
      expect(await app.ctx.models.events.countDocuments({})).toBe(0);
    },
  );

  it.each([
    '/v1/contacts/externalId:u?businessUnit[$ne]=x',
    '/v1/contacts/externalId:u?businessUnit[$where]=sleep(1)',
    '/v1/contacts/externalId:u?__proto__[polluted]=yes',
    '/v1/contacts/externalId:u?constructor[prototype][polluted]=yes',
    '/v1/contacts/externalId:u?$where=sleep(1)',
    '/v1/consent-changes?since[$gt]=2000-01-01T00:00:00Z',
    '/v1/consent-changes?since=2000-01-01T00:00:00Z&cursor[$ne]=x',
    '/v1/consent-changes?since=2000-01-01T00:00:00Z&limit[$gt]=0',
    '/v1/consent-changes?since=2000-01-01T00:00:00Z&__proto__[polluted]=yes',
    '/v1/consent-changes?since=2000-01-01T00:00:00Z&$where=1',
  ])('GET %s → 400', async (path) => {
    const res = await send(app, 'GET', path, { key: SHOP });
    expect(res.status).toBe(400);
  });

  it('Object.prototype is untouched and nothing was stored or enqueued', async () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false);
    expect(await app.ctx.models.events.countDocuments({})).toBe(0);
    expect(await app.ctx.runtime.queue(QUEUE_APPLY).count()).toBe(0);
    // the same app still accepts a clean event, so the 400s above were about the payloads
    expect((await send(app, 'POST', '/v1/consent-events', { key: SHOP, body: event('fuzz-clean') })).status).toBe(202);
  });
});
