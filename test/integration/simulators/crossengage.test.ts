/** CrossEngage simulator honours esp-contracts.md §2 (headers, opt-out status, "Opt Out" events for leads). */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SimulatorHandle, simulatorCredentials, startSimulator } from '../../../src/simulators/index.js';
import { control, http, jsonInit, simState } from './helpers.js';

const TOKEN = simulatorCredentials.crossengage.authToken;
const V1 = { 'X-XNG-AuthToken': TOKEN, 'X-XNG-ApiVersion': '1' };
const V2 = { 'X-XNG-AuthToken': TOKEN, 'X-XNG-ApiVersion': '2' };

describe('crossengage simulator', () => {
  let sim: SimulatorHandle;
  const put = (path: string, body: unknown, headers = V1) =>
    http(`${sim.url}${path}`, jsonInit('PUT', body, headers));
  const post = (path: string, body: unknown, headers = V1) =>
    http(`${sim.url}${path}`, jsonInit('POST', body, headers));
  const get = (path: string, headers = V1) => http(`${sim.url}${path}`, { headers });

  beforeAll(async () => {
    sim = await startSimulator('crossengage', {
      users: [{ id: 'u1', email: 'One@Example.com', businessUnit: 'de' }],
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('checks X-XNG-AuthToken (401) and X-XNG-ApiVersion (400), with X-Request-ID on every answer', async () => {
    const noToken = await put('/users/u1/optout-status?channelType=MAIL', { optOut: true }, {
      'X-XNG-ApiVersion': '1',
    } as typeof V1);
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(
      (await put('/users/u1/optout-status', { optOut: true }, { ...V1, 'X-XNG-AuthToken': 'wrong' })).status,
    ).toBe(401);
    const noVersion = await put('/users/u1/optout-status', { optOut: true }, {
      'X-XNG-AuthToken': TOKEN,
    } as typeof V1);
    expect([noVersion.status, noVersion.body]).toEqual([
      400,
      { field: 'X-XNG-ApiVersion', type: 'MISSING_VALUE' },
    ]);
    expect((await put('/users/u1/optout-status', { optOut: true }, V2)).status).toBe(400);
    expect(
      (await put('/users/u1/optout-status', { optOut: true }, { ...V1, 'X-XNG-ApiVersion': '7' })).status,
    ).toBe(400);
  });

  it('sets and reads channel opt-outs, re-opts-in, and 404s an unknown user', async () => {
    const res = await put('/users/u1/optout-status?channelType=MAIL', { optOut: true });
    expect([res.status, res.body]).toEqual([200, { optOut: true }]);
    expect((await get('/users/u1/optout-status?channelType=MAIL')).body).toEqual({ optOut: true });
    expect((await get('/users/u1/optout-status?channelType=SMS')).body).toEqual({ optOut: false });
    expect((await get('/users/u1/recipient-status')).body).toEqual({
      blacklisted: false,
      optOutAll: false,
      optOutChannels: ['MAIL'],
    });
    expect((await simState(sim.url)).recipients.u1).toEqual({
      email: 'opted_out',
      sms: 'opted_in',
      push: 'opted_in',
    });
    await put('/users/u1/optout-status?channelType=MAIL', { optOut: false });
    expect((await simState(sim.url)).recipients.u1?.email).toBe('opted_in');
    expect((await put('/users/nobody/optout-status?channelType=MAIL', { optOut: true })).status).toBe(404);
    expect((await get('/users/nobody/optout-status')).status).toBe(404);
    expect((await put('/users/u1/optout-status?channelType=FAX', { optOut: true })).body).toEqual({
      field: 'channelType',
      type: 'UNKNOWN_VALUE',
    });
    expect((await put('/users/u1/optout-status', { optOut: 'yes' })).status).toBe(400);
  });

  it('sets the overall status without channelType, and the blacklist', async () => {
    await put('/users/u1/optout-status', { optOut: true });
    expect((await get('/users/u1/optout-status')).body).toEqual({ optOut: true });
    expect((await get('/users/u1/optout-status?channelType=PUSH_NOTIFICATION')).body).toEqual({
      optOut: true,
    });
    expect((await simState(sim.url)).recipients.u1).toEqual({
      email: 'opted_out',
      sms: 'opted_out',
      push: 'opted_out',
    });
    expect((await put('/users/u1/blacklist-status', { blacklisted: true })).body).toEqual({
      blacklisted: true,
    });
    expect((await get('/users/u1/recipient-status')).body).toEqual({
      blacklisted: true,
      optOutAll: true,
      optOutChannels: [],
    });
    // recipient-status documents no 404: an unknown user reads as the default status.
    expect((await get('/users/ghost/recipient-status')).body).toEqual({
      blacklisted: false,
      optOutAll: false,
      optOutChannels: [],
    });
  });

  it('creates users with v2 PUT /users (202 + trackingId) and validates id and email', async () => {
    const res = await put('/users', { id: 'u2', email: 'two@example.com', firstName: 'Two' }, V2);
    expect(res.status).toBe(202);
    const { trackingId } = res.body as { trackingId: string };
    expect((await get(`/users/track/${trackingId}`, V2)).body).toEqual({
      stage: 'PROCESSED',
      total: 1,
      success: 1,
      error: 0,
    });
    expect((await get('/users/email/TWO@example.com/bu/xx', V2)).status).toBe(404);
    expect((await get('/users/u2', V2)).body).toMatchObject({
      id: 'u2',
      email: 'two@example.com',
      firstName: 'Two',
    });
    expect((await get('/users/email/ONE@example.com/bu/de', V2)).body).toMatchObject({ id: 'u1' });
    const bad = await put('/users', { id: 'u3' }, V2);
    expect(bad.status).toBe(400);
    expect((bad.body as { errors: { code: number; source: { pointer: string } }[] }).errors[0]).toMatchObject(
      { code: 2, source: { pointer: '/email' } },
    );
    expect((await put('/users/u2/optout-status?channelType=SMS', { optOut: true })).status).toBe(200);
  });

  it('limits POST /users/batch to 1000 users (code 9)', async () => {
    const updated = Array.from({ length: 1001 }, (_, i) => ({ id: `b${i}`, email: `b${i}@example.com` }));
    const res = await post('/users/batch', { updated }, V2);
    expect(res.status).toBe(400);
    expect((res.body as { errors: { code: number; title: string }[] }).errors[0]).toMatchObject({
      code: 9,
      title: 'Max batch request size is 1,000, but was 1,001',
    });
    const ok = await post(
      '/users/batch',
      { updated: [{ id: 'b1', email: 'b1@example.com' }, { id: 'b2' }] },
      V2,
    );
    expect(ok.status).toBe(202);
    expect((ok.body as { errors: unknown[] }).errors).toHaveLength(1);
    const v1 = await post('/users/batch', { updated: [{ id: 'b3', email: 'b3@example.com' }] }, V1);
    expect(v1.status).toBe(200);
    expect(v1.body).toEqual({ updated: [{ id: 'b3', xngId: expect.any(String), success: true }], deleted: [] });
  });

  it('v1 batch item errors come in the documented {field, type} shape, with 400', async () => {
    const res = await post('/users/batch', { updated: [{ id: 'b4', email: 'b4@example.com' }, { email: 'x@example.com' }, { id: 'b5', email: 'not-an-email' }] }, V1);
    expect(res.status).toBe(400);
    const body = res.body as { updated: { success: boolean; errors?: unknown[] }[]; deleted: unknown[] };
    expect(body.updated.map((u) => u.success)).toEqual([true, false, false]);
    expect(body.updated[1]?.errors).toEqual([{ field: 'id', type: 'NOT_NULL' }]);
    expect(body.updated[2]?.errors).toEqual([{ field: 'email', type: 'WRONG_FORMAT' }]);
    // the valid item was applied
    expect((await get('/users/b4')).status).toBe(200);
    const leads = await post('/leads', { updated: [{ email: 'ok@example.com' }, { email: 'bad' }] });
    expect(leads.status).toBe(400);
    expect(leads.body).toEqual({
      updated: [
        { xngId: expect.any(String), success: true },
        { xngId: null, success: false, errors: [{ field: 'email', type: 'WRONG_FORMAT' }] },
      ],
      deleted: [],
    });
  });

  it('v1 PUT /users/{id} creates and updates a user as documented; DELETE answers 204 (v2 202)', async () => {
    const created = await put('/users/u9', { email: 'nine@example.com', businessUnit: 'DE', firstName: 'Nine' });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({ id: 'u9', xngId: expect.any(String), email: 'nine@example.com', businessUnit: 'DE', success: true });
    const updated = await put('/users/u9', { firstName: 'Neun' });
    expect([updated.status, (updated.body as { xngId: string }).xngId]).toEqual([200, (created.body as { xngId: string }).xngId]);
    expect((await get('/users/u9')).body).toMatchObject({ id: 'u9', email: 'nine@example.com', firstName: 'Neun' });
    // the user now exists for the opt-out endpoints
    expect((await put('/users/u9/optout-status?channelType=SMS', { optOut: true })).status).toBe(200);
    const mismatch = await put('/users/u9', { id: 'other', email: 'nine@example.com' });
    expect([mismatch.status, (mismatch.body as { errors: unknown[] }).errors]).toEqual([409, [{ field: 'id', type: 'user_IDS_MISMATCH' }]]);
    const wrong = await put('/users/u10', { email: 'nope' });
    expect([wrong.status, (wrong.body as { errors: unknown[] }).errors]).toEqual([400, [{ field: 'email', type: 'WRONG_VALUE' }]]);
    expect((await get('/users/u10')).status).toBe(404);
    const deleted = await http(`${sim.url}/users/u9`, { method: 'DELETE', headers: V1 });
    expect([deleted.status, deleted.text]).toEqual([204, '']);
    expect((await get('/users/u9')).status).toBe(404);
    expect((await http(`${sim.url}/users/u9`, { method: 'DELETE', headers: V2 })).status).toBe(202);
  });

  it('a user created with a lead\'s email and business unit absorbs the lead, opt-outs included', async () => {
    await post('/events', { email: 'Merge@Example.com', businessUnit: 'de', events: [{ event: 'Opt Out', 'channel.type': 'SMS' }] });
    expect((await simState(sim.url)).recipients['lead:de:merge@example.com']).toMatchObject({ sms: 'opted_out' });
    expect((await put('/users/m1', { email: 'merge@example.com', businessUnit: 'de' })).status).toBe(200);
    const recipients = (await simState(sim.url)).recipients;
    expect(recipients['lead:de:merge@example.com']).toBeUndefined();
    expect(recipients['m1']).toEqual({ email: 'opted_in', sms: 'opted_out', push: 'opted_in' });
  });

  it('a route it does not simulate answers 501 naming it', async () => {
    const res = await get('/users/attributes?offset=0&limit=2');
    expect(res.status).toBe(501);
    expect(res.body).toMatchObject({ error: 'not simulated', message: expect.stringContaining('GET /users/attributes') });
  });

  describe('POST /events', () => {
    it('opts a lead out with an event-level channel.type (202), keyed lead:<bu>:<email>', async () => {
      const res = await post('/events', {
        email: 'Lead@Example.com',
        businessUnit: 'de',
        events: [{ event: 'Opt Out', 'channel.type': 'MAIL' }],
      });
      expect([res.status, res.text]).toEqual([202, '']);
      expect((await simState(sim.url)).recipients['lead:de:lead@example.com']).toEqual({
        email: 'opted_out',
        sms: 'opted_in',
        push: 'opted_in',
      });
    });

    it('applies an email event to the user with that email and business unit', async () => {
      await post('/events', {
        email: 'one@example.com',
        businessUnit: 'de',
        events: [{ event: 'Opt Out', 'channel.type': 'SMS' }],
      });
      expect((await get('/users/u1/recipient-status')).body).toMatchObject({ optOutChannels: ['SMS'] });
    });

    it('ignores an "Opt Out" without event-level channel (no_channel), and honours ALL', async () => {
      await post('/events', {
        id: 'u1',
        events: [{ event: 'Opt Out' }, { event: 'Opt Out', properties: { 'channel.type': 'MAIL' } }],
      });
      expect((await get('/users/u1/recipient-status')).body).toEqual({
        blacklisted: false,
        optOutAll: false,
        optOutChannels: [],
      });
      const events = sim.state().events as { effect: string }[];
      expect(events.map((e) => e.effect)).toEqual(['none', 'none']);
      await post('/events', { id: 'u1', events: [{ event: 'Opt Out', 'channel.type': 'ALL' }] });
      expect((await get('/users/u1/optout-status')).body).toEqual({ optOut: true });
    });

    it('"Opt In" with a channel clears that opt-out (seeds/001 "(Re)Opt In"), for users and leads', async () => {
      const lead = { email: 'back@example.com', businessUnit: 'de' };
      await post('/events', { ...lead, events: [{ event: 'Opt Out', 'channel.type': 'MAIL' }] });
      await post('/events', { id: 'u1', events: [{ event: 'Opt Out', 'channel.type': 'SMS' }] });
      expect((await simState(sim.url)).recipients['lead:de:back@example.com']?.email).toBe('opted_out');
      expect(
        (await post('/events', { ...lead, events: [{ event: 'Opt In', 'channel.type': 'MAIL' }] })).status,
      ).toBe(202);
      await post('/events', { id: 'u1', events: [{ event: 'Opt In', 'channel.type': 'SMS' }] });
      expect((await simState(sim.url)).recipients['lead:de:back@example.com']?.email).toBe('opted_in');
      expect((await get('/users/u1/optout-status?channelType=SMS')).body).toEqual({ optOut: false });
      const events = sim.state().events as { event: string; effect: string }[];
      expect(events.map((e) => `${e.event}:${e.effect}`)).toEqual([
        'Opt Out:opt-out',
        'Opt Out:opt-out',
        'Opt In:opt-in',
        'Opt In:opt-in',
      ]);
    });

    it('rejects bad events with {field, type} and more than 50 events with 400', async () => {
      expect((await post('/events', { id: 'u1', events: [{ properties: {} }] })).body).toEqual({
        field: 'event',
        type: 'UNKNOWN_VALUE',
      });
      expect(
        (await post('/events', { id: 'u1', events: [{ event: 'Opt Out', 'channel.type': 'FAX' }] })).body,
      ).toEqual({ field: 'channel.type', type: 'UNKNOWN_VALUE' });
      const events = Array.from({ length: 51 }, () => ({ event: 'Opt Out', 'channel.type': 'MAIL' }));
      expect((await post('/events', { id: 'u1', events })).status).toBe(400);
      expect((await post('/events', { id: 'u1', events: events.slice(0, 50) })).status).toBe(202);
      expect((await post('/events', { events: events.slice(0, 1) })).status).toBe(400);
    });
  });

  it('acts out an unsubscribe that the opt-out read-back shows (unknown → 404)', async () => {
    const res = await control(sim.url, '/__sim/unsubscribe', {
      recipient: 'u1',
      channel: 'sms',
      type: 'sms_stop',
    });
    expect(res.body).toMatchObject({ recipient: 'u1', channel: 'sms', channelType: 'SMS', webhook: false });
    expect((await get('/users/u1/optout-status?channelType=SMS')).body).toEqual({ optOut: true });
    expect((await control(sim.url, '/__sim/unsubscribe', { recipient: 'ghost' })).status).toBe(404);
  });

  it('can script a 500 for the retry path', async () => {
    sim.setFaults({ rules: [{ method: 'PUT', path: '/users/', steps: [{ status: 500 }, { status: 503 }] }] });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await put('/users/u1/optout-status?channelType=MAIL', { optOut: true })).status);
    expect(statuses).toEqual([500, 503, 200]);
  });
});
