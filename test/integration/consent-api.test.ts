import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ConsentEventInput, ConsentClient, ConsentClientError } from '../../src/client/index.js';
import { freePort } from '../../src/dev/child.js';
import { startTestApp } from '../support/app.js';
import { insertPendingContacts, queueFixture } from '../support/pending-contacts.js';
import { REDIS_TOPOLOGIES, redisTopologyEnv, stopRedisCluster } from '../support/redis-topology.js';
import { waitFor } from '../support/wait-for.js';

type App = Awaited<ReturnType<typeof startTestApp>>;

const base = {
  contact: { externalId: '88c5a896-28bb-44e9-850c-2bf60f01a0f9', email: 'Jo@Example.com ', businessUnit: 'shop-de' },
  kind: 'marketing',
  channel: 'all',
  value: 'opt_out',
  source: 'list_unsubscribe',
  moment: '2026-11-20T10:15:00Z',
  way: { device: 'mobile', userAgent: 'Mail/1.0' },
  proof: { url: 'https://example.com/unsub' },
};

// The core flow runs on a single Redis and on a Redis Cluster (hash-tagged queue prefixes).
describe.each(REDIS_TOPOLOGIES)('consent API (%s Redis): store, apply, view, export', (topology) => {
  let app: App;
  beforeAll(async () => {
    app = await startTestApp({ workers: 1, env: await redisTopologyEnv(topology) });
  });
  afterAll(async () => {
    await app?.close();
    await stopRedisCluster();
  });

  it('stores an opt-out on all channels, applies it, and shows it in the contact view', async () => {
    const res = await app.post('/v1/consent-events', { eventId: 'evt-0001', ...base });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: 1, events: [{ eventId: 'evt-0001', status: 'accepted' }] });
    const view = await waitFor(async () => {
      const r = await app.get('/v1/contacts/externalId:88c5a896-28bb-44e9-850c-2bf60f01a0f9');
      return r.status === 200 && (r.body['audit'] as unknown[]).length > 0 ? r.body : undefined;
    });
    expect(view['effective']).toEqual({ marketing: { email: 'opted_out', sms: 'opted_out', push: 'opted_out' }, tracking: 'unknown' });
    expect(view['version']).toBe(1);
    expect(view['identities']).toMatchObject({ email: 'jo@example.com', businessUnit: 'shop-de' });
    expect((view['suppressed'] as string[]).join(' ')).toContain('list_unsubscribe');
    expect(view['audit']).toMatchObject([{ eventId: 'evt-0001', outcome: 'applied', source: 'list_unsubscribe' }]);
    // the same contact by its other identity
    const byEmail = await app.get('/v1/contacts/email:jo@example.com?businessUnit=shop-de');
    expect(byEmail.body['contactId']).toBe(view['contactId']);
  });

  it('a resent event is a duplicate and changes nothing', async () => {
    const res = await app.post('/v1/consent-events', { eventId: 'evt-0001', ...base });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(await app.ctx.models.audit.countDocuments({ _id: 'evt-0001' })).toBe(1);
  });

  it('reusing an eventId for a different event is a 409 and stores nothing', async () => {
    const res = await app.post('/v1/consent-events', { eventId: 'evt-0001', ...base, value: 'opt_in' });
    expect(res.status).toBe(409);
    expect(res.body['problems']).toEqual([{ field: 'eventId', rule: 'evt-0001 already identifies a different event' }]);
  });

  it('a lead re-opt-in is recorded as optin_blocked, naming the blocking listing', async () => {
    await app.post('/v1/consent-events', {
      eventId: 'lead-1', contact: { email: 'lead@example.org' }, kind: 'marketing', channel: 'email', value: 'opt_out',
      source: 'unsubscribe_link', moment: '2026-11-01T00:00:00Z',
    });
    // The outcome of an opt-in depends on what is already applied (the final state does not).
    await waitFor(async () => (await app.ctx.models.audit.countDocuments({ _id: 'lead-1' })) === 1);
    await app.post('/v1/consent-events', {
      eventId: 'lead-2', contact: { email: 'lead@example.org' }, kind: 'marketing', channel: 'email', value: 'opt_in',
      source: 'form', moment: '2026-11-02T00:00:00Z',
    });
    const view = await waitFor(async () => {
      const r = await app.get('/v1/contacts/email:lead@example.org');
      return r.status === 200 && (r.body['audit'] as unknown[]).length === 2 ? r.body : undefined;
    });
    const audit = view['audit'] as { eventId: string; outcome: string; reason?: string; blockedBy?: { source: string } }[];
    const blocked = audit.find((a) => a.eventId === 'lead-2')!;
    expect(blocked.outcome).toBe('optin_blocked');
    expect(blocked.blockedBy?.source).toBe('unsubscribe_link');
    expect(blocked.reason).toMatch(/forced opt-in/);
    expect((view['effective'] as { marketing: Record<string, string> }).marketing['email']).toBe('opted_out');
  });

  it('a lead that gains an externalId stays one contact', async () => {
    await app.post('/v1/consent-events', {
      eventId: 'gain-1', contact: { email: 'gain@example.org' }, kind: 'tracking', value: 'opt_out', source: 'preference_center',
    });
    await waitFor(async () => (await app.get('/v1/contacts/email:gain@example.org')).status === 200);
    await app.post('/v1/consent-events', {
      eventId: 'gain-2', contact: { email: 'gain@example.org', externalId: 'user-77' }, kind: 'marketing', channel: 'sms',
      value: 'opt_in', source: 'form',
    });
    const view = await waitFor(async () => {
      const r = await app.get('/v1/contacts/externalId:user-77');
      // the externalId's key is claimed before gain-2's contact update: wait for its audit record
      return r.status === 200 && (r.body['audit'] as unknown[]).length === 2 ? r.body : undefined;
    });
    const byEmail = await app.get('/v1/contacts/email:gain@example.org');
    expect(byEmail.body['contactId']).toBe(view['contactId']);
    expect(view['effective']).toMatchObject({ tracking: 'opted_out', marketing: { sms: 'opted_in' } });
  });

  it('a marketing event without channel is audited as no_channel and changes nothing', async () => {
    await app.post('/v1/consent-events', {
      eventId: 'nochan-1', contact: { externalId: 'nochan' }, kind: 'marketing', value: 'opt_out', source: 'api',
    });
    const view = await waitFor(async () => {
      const r = await app.get('/v1/contacts/externalId:nochan');
      return r.status === 200 && (r.body['audit'] as unknown[]).length === 1 ? r.body : undefined;
    });
    expect(view['audit']).toMatchObject([{ outcome: 'no_channel' }]);
    expect(view['version']).toBe(0);
  });

  it('answers 404 for an unknown contact and 400 for a malformed identity', async () => {
    expect((await app.get('/v1/contacts/externalId:nobody')).status).toBe(404);
    const bad = await app.get('/v1/contacts/nickname:jo');
    expect(bad.status).toBe(400);
    expect(bad.body['problems']).toMatchObject([{ field: 'identity' }]);
  });

  it('exports consent changes since a time as NDJSON, paged by cursor', async () => {
    const first = await app.get('/v1/consent-changes?since=2000-01-01T00:00:00Z&limit=2');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = first.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    const cursor = first.headers.get('x-next-cursor');
    expect(cursor).toBeTruthy();
    const rest = await app.get(`/v1/consent-changes?since=2000-01-01T00:00:00Z&limit=1000&cursor=${cursor}`);
    const all = [...lines, ...rest.text.trim().split('\n').map((l) => JSON.parse(l))];
    const ids = all.map((r) => r.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['evt-0001', 'lead-1', 'lead-2', 'gain-1', 'gain-2', 'nochan-1']));
    expect(all.find((r) => r.eventId === 'evt-0001')).toMatchObject({ way: { device: 'mobile' }, source: 'list_unsubscribe' });
    expect((await app.get('/v1/consent-changes?since=yesterday')).status).toBe(400);
  });
});

describe('consent API: bad input gets a 4xx naming the problem and stores nothing', () => {
  let app: App;
  beforeAll(async () => {
    app = await startTestApp({ env: { MAX_EVENTS_PER_REQUEST: '3' } });
  });
  afterAll(async () => app?.close());
  beforeEach(async () => {
    expect(await app.ctx.models.events.countDocuments({})).toBe(0);
  });

  const ok = { eventId: 'e1', contact: { email: 'x@example.com' }, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'api' };
  const cases: [string, unknown, number, string][] = [
    ['malformed JSON', '{"eventId": "e1",', 400, '(body)'],
    ['wrong type', { ...ok, force: 'yes' }, 400, 'force'],
    ['unknown channel', { ...ok, channel: 'fax' }, 400, 'channel'],
    ['missing identity', { ...ok, contact: {} }, 400, 'contact'],
    ['bad email', { ...ok, contact: { email: 'not-an-email' } }, 400, 'contact.email'],
    ['bad phone', { ...ok, contact: { phone: '12' } }, 400, 'contact.phone'],
    ['operator injection in contact', { ...ok, contact: { email: { $ne: null } } }, 400, 'contact.email'],
    ['operator key in way', { ...ok, way: { $where: 'sleep(1)' } }, 400, 'way.$where'],
    ['dotted key in properties', { ...ok, properties: { 'a.b': 1 } }, 400, 'properties.a.b'],
    ['unknown field', { ...ok, extra: true }, 400, 'extra'],
    ['__proto__ key', `{"eventId":"e1","contact":{"email":"x@example.com"},"kind":"marketing","channel":"email","value":"opt_out","source":"api","__proto__":{"admin":true}}`, 400, ''],
    ['bad moment', { ...ok, moment: '20/11/2026' }, 400, 'moment'],
    ['tracking with a channel', { ...ok, kind: 'tracking' }, 400, 'channel'],
    ['oversized batch', { events: [1, 2, 3, 4].map((i) => ({ ...ok, eventId: `e${i}` })) }, 400, 'events'],
    ['repeated eventId in a batch', { events: [ok, ok] }, 400, 'events.1.eventId'],
    ['one bad event in a batch', { events: [ok, { ...ok, eventId: 'e2', value: 'maybe' }] }, 400, 'events.1.value'],
  ];

  it.each(cases)('%s', async (_name, body, status, field) => {
    const res = await app.post('/v1/consent-events', body);
    expect(res.status).toBe(status);
    const problems = (res.body['problems'] ?? []) as { field: string; rule: string }[];
    expect(problems.length).toBeGreaterThan(0);
    if (field) expect(problems.map((p) => p.field)).toContain(field);
    for (const p of problems) expect(p.rule.length).toBeGreaterThan(3);
    expect(await app.ctx.models.events.countDocuments({})).toBe(0);
    expect(await app.ctx.runtime.queue('consent-apply').count()).toBe(0);
  });

  it('a body over the size limit is refused with a 413 that states the limit', async () => {
    const res = await app.post('/v1/consent-events', { ...ok, properties: { big: 'x'.repeat(1_100_000) } });
    expect(res.status).toBe(413);
    expect(res.body['error']).toBe('payload_too_large');
    expect(res.body['message']).toContain('1048576 bytes');
    expect(res.body['problems']).toEqual([{ field: '(body)', rule: 'at most 1048576 bytes (1 MiB)' }]);
  });

  it('lists every problem of an event, each with its field, its rule and its limit; a missing field is "required"', async () => {
    const res = await app.post('/v1/consent-events', {
      eventId: 'x'.repeat(200),
      contact: { email: 'x@example.com', phone: '1' },
      kind: 'marketing',
      channel: 'fax',
      source: 'api',
    });
    expect(res.status).toBe(400);
    const problems = res.body['problems'] as { field: string; rule: string }[];
    const byField = Object.fromEntries(problems.map((p) => [p.field, p.rule]));
    expect(Object.keys(byField).sort()).toEqual(['channel', 'contact.phone', 'eventId', 'value']);
    expect(byField['value']).toBe('required: one of opt_in, opt_out');
    expect(byField['eventId']).toMatch(/128/);
    expect(byField['contact.phone']).toMatch(/4/);
    expect(byField['channel']).toMatch(/email, sms, push, all/);
    expect(JSON.stringify(problems)).not.toMatch(/received undefined/);
  });

  it('a body with a __proto__ key is refused as such, not as invalid JSON', async () => {
    const res = await app.post('/v1/consent-events', `{"eventId":"e1","contact":{"__proto__":{"admin":true}}}`);
    expect(res.status).toBe(400);
    expect(res.body['error']).toBe('forbidden_key');
    expect((res.body['problems'] as { rule: string }[])[0]!.rule).toMatch(/__proto__/);
  });

  it.each([
    ['text/plain', JSON.stringify(ok)],
    ['application/x-www-form-urlencoded', 'eventId=e1'],
  ])('a %s body gets 415 naming the content type wanted', async (type, body) => {
    const res = await app.post('/v1/consent-events', body, { 'content-type': type });
    expect(res.status).toBe(415);
    expect(res.body['error']).toBe('unsupported_media_type');
    expect(res.body['problems']).toEqual([{ field: 'content-type', rule: `must be application/json, not ${type}` }]);
    expect(await app.ctx.models.events.countDocuments({})).toBe(0);
  });

  it("the client's errors carry the URL, the status and every problem", async () => {
    // The client knows a channel the service does not, so the event passes its own check and the service refuses it.
    const client = new ConsentClient({ baseUrl: app.url, channels: ['email', 'sms', 'push', 'fax'], attempts: 1 });
    const err = await client.record({ ...ok, channel: 'fax' } as ConsentEventInput).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConsentClientError);
    const failure = err as ConsentClientError;
    expect(failure.status).toBe(400);
    expect(failure.url).toBe(`${app.url}/v1/consent-events`);
    expect(failure.code).toBe('validation_failed');
    expect(failure.message).toContain(`POST ${app.url}/v1/consent-events answered 400 validation_failed`);
    expect(failure.message).toMatch(/events\.0\.channel: must be one of email, sms, push, all/);
    const local = await client.record({ ...ok, value: undefined } as unknown as ConsentEventInput).catch((e: unknown) => e);
    expect((local as ConsentClientError).problems).toEqual([{ field: 'events.0.value', rule: 'required: one of opt_in, opt_out' }]);
    const deadUrl = `http://127.0.0.1:${await freePort()}`;
    const offline = await new ConsentClient({ baseUrl: deadUrl, attempts: 1 }).record(ok as ConsentEventInput).catch((e: unknown) => e);
    expect((offline as ConsentClientError).url).toBe(`${deadUrl}/v1/consent-events`);
    expect((offline as Error).message).toContain(`POST ${deadUrl}/v1/consent-events failed`);
  });

  it('a replayed event is answered as a duplicate, saying so', async () => {
    expect((await app.post('/v1/consent-events', ok)).status).toBe(202);
    const replay = await app.post('/v1/consent-events', ok);
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ accepted: 0, duplicates: 1, events: [{ eventId: 'e1', status: 'duplicate' }] });
    expect(replay.body['message']).toMatch(/e1 .*already recorded.*nothing changed/);
    await app.ctx.models.events.deleteMany({});
    await app.ctx.runtime.queue('consent-apply').obliterate({ force: true });
  });
});

describe('contact view: a pending push shows its lane and its place in line', () => {
  let app: App;
  beforeAll(async () => {
    app = await startTestApp();
    await insertPendingContacts(app.ctx.models, queueFixture('queued'));
  });
  afterAll(async () => app?.close());

  it('per ESP: lane number and name, pending version, since, and about how many are ahead', async () => {
    const r = await app.get('/v1/contacts/externalId:queued');
    expect(r.status).toBe(200);
    const sync = r.body['sync'] as Record<string, { status: string; pending: Record<string, unknown> | null }>;
    expect(Object.keys(sync).sort()).toEqual(['crossengage', 'ometria']);
    expect(sync['crossengage']).toMatchObject({
      status: 'pending',
      pending: {
        version: 5,
        lane: 1,
        laneName: 'person',
        placeInLine: { ahead: 1, estimate: true, text: 'about 1 ahead' },
      },
    });
    // An entry written before lanes is bulk: behind every lane 1 and 2 entry and the older bulk one
    expect(sync['ometria']).toMatchObject({
      pending: { version: 5, lane: 3, laneName: 'bulk', placeInLine: { ahead: 3, text: 'about 3 ahead' } },
    });
    const since = new Date(String(sync['ometria']?.pending?.['since'])).getTime();
    expect(Date.now() - since).toBeGreaterThanOrEqual(100_000);
    expect(Date.now() - since).toBeLessThan(160_000);
  });

  it('the place in line moves up as the entries ahead are pushed', async () => {
    await app.ctx.models.contacts.updateOne({ _id: 'c-queued-o4' }, { $unset: { 'outbox.ometria': '' } });
    await app.ctx.models.contacts.updateOne({ _id: 'c-queued-o1' }, { $unset: { 'outbox.crossengage': '' } });
    const r = await app.get('/v1/contacts/externalId:queued');
    const sync = r.body['sync'] as Record<string, { pending: { placeInLine: { ahead: number } } | null }>;
    expect(sync['crossengage']?.pending?.placeInLine.ahead).toBe(0);
    expect(sync['ometria']?.pending?.placeInLine.ahead).toBe(2);
  });

  it('an ESP with nothing pending shows no pending push', async () => {
    await app.ctx.models.contacts.updateOne(
      { _id: 'c-queued' },
      { $unset: { 'outbox.crossengage': '' }, $set: { 'sync.crossengage.status': 'synced' } },
    );
    const r = await app.get('/v1/contacts/externalId:queued');
    const sync = r.body['sync'] as Record<string, { status: string; pending: unknown }>;
    expect(sync['crossengage']).toMatchObject({ status: 'synced', pending: null });
    expect(sync['ometria']?.pending).not.toBeNull();
  });
});
