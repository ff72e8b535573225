/** Dynamic Yield simulator honours esp-contracts.md §4 (DY-API-Key, message opt events, Reconnect endpoints). */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SimulatorHandle, simulatorCredentials, startSimulator } from '../../../src/simulators/index.js';
import { control, http, jsonInit, simState } from './helpers.js';

const { apiKey, clientApiKey } = simulatorCredentials['dynamic-yield'];

const collect = (events: unknown[], extra: Record<string, unknown> = {}) => ({
  user: { dyid: '-4350463893986789401', dyid_server: '-4350463893986789401' },
  session: { dy: 'ohyr6v42l9zd4bpinnvp7urjjx9lrssw' },
  events,
  ...extra,
});

describe('dynamic-yield simulator', () => {
  let sim: SimulatorHandle;
  const post = (path: string, body: unknown, key: string | null = apiKey) =>
    http(`${sim.url}${path}`, jsonInit('POST', body, key === null ? {} : { 'DY-API-Key': key }));

  beforeAll(async () => {
    sim = await startSimulator('dynamic-yield');
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('checks DY-API-Key: missing or unknown → 401, a client-side key on the standard host → 403', async () => {
    const body = collect([{ name: 'x', properties: {} }]);
    expect((await post('/v2/collect/user/event', body, null)).status).toBe(401);
    expect((await post('/v2/collect/user/event', body, 'nope')).status).toBe(401);
    expect((await post('/v2/collect/user/event', body, clientApiKey)).status).toBe(403);
    const direct = await startSimulator('dynamic-yield', { direct: true });
    try {
      const res = await http(
        `${direct.url}/v2/collect/user/event`,
        jsonInit('POST', body, { 'DY-API-Key': clientApiKey }),
      );
      expect(res.status).toBe(204);
    } finally {
      await direct.close();
    }
  });

  it('records push opt-out / opt-in by pushID', async () => {
    const out = await post(
      '/v2/collect/user/event',
      collect([{ name: 'Push Opt-Out', properties: { dyType: 'message-optout-v1', pushID: '100' } }]),
    );
    expect([out.status, out.text]).toEqual([204, '']);
    expect((await simState(sim.url)).recipients['100']).toEqual({ push: 'opted_out' });
    await post(
      '/v2/collect/user/event',
      collect([
        {
          name: 'Push Opt-In',
          properties: { dyType: 'message-optin-v1', pushID: '100', channelType: 'APP_PUSH' },
        },
      ]),
    );
    expect((await simState(sim.url)).recipients['100']).toEqual({ push: 'opted_in' });
    const badChannel = await post(
      '/v2/collect/user/event',
      collect([{ name: 'x', properties: { dyType: 'message-optin-v1', pushID: '1', channelType: 'SMOKE' } }]),
    );
    expect(badChannel.status).toBe(400);
  });

  it('records email opt-out by cuidType and validates the documented cuidTypes per event', async () => {
    await post(
      '/v2/collect/user/event',
      collect([
        {
          name: 'Email Opt-Out',
          properties: { dyType: 'message-optout-v1', cuidType: 'email', plainTextEmail: 'Jo@X.io' },
        },
      ]),
    );
    await post(
      '/v2/collect/user/event',
      collect([
        {
          name: 'Email Opt-In',
          properties: { dyType: 'message-optin-v1', cuidType: 'hashedEmail', hashedEmail: 'ab12' },
        },
      ]),
    );
    await post(
      '/v2/collect/user/event',
      collect([
        {
          name: 'SMS Opt-In',
          properties: { dyType: 'message-optin-v1', cuidType: 'phone number', phoneNumber: '+4915100000000' },
        },
      ]),
    );
    expect((await simState(sim.url)).recipients).toEqual({
      'jo@x.io': { email: 'opted_out' },
      ab12: { email: 'opted_in' },
      '+4915100000000': { sms: 'opted_in' },
    });
    const wrongType = collect([
      { name: 'x', properties: { dyType: 'message-optin-v1', cuidType: 'email', plainTextEmail: 'a@x.io' } },
    ]);
    expect((await post('/v2/collect/user/event', wrongType)).status).toBe(400);
    const noValue = collect([
      { name: 'x', properties: { dyType: 'message-optout-v1', cuidType: 'external' } },
    ]);
    expect((await post('/v2/collect/user/event', noValue)).status).toBe(400);
  });

  it('rejects a malformed request as a whole (400, no state change) and records custom events', async () => {
    expect((await post('/v2/collect/user/event', { session: { dy: 's' }, events: [] })).status).toBe(400);
    expect((await post('/v2/collect/user/event', collect([]))).status).toBe(400);
    const mixed = collect([
      { name: 'ok', properties: { dyType: 'message-optout-v1', pushID: '7' } },
      { name: 'bad', properties: { dyType: 'message-optout-v1' } },
    ]);
    expect((await post('/v2/collect/user/event', mixed)).status).toBe(400);
    expect((await simState(sim.url)).recipients).toEqual({});
    await post('/v2/collect/user/event', collect([{ name: 'Add to Cart', properties: { value: 3 } }]));
    const state = await simState(sim.url);
    expect(state.recipients).toEqual({});
    expect(state.events).toEqual([
      expect.objectContaining({ name: 'Add to Cart', dyType: null, recipient: null }),
    ]);
  });

  it('serves the Reconnect opt-in/opt-out endpoints (202; 400 without identifier or for an unknown channel)', async () => {
    const out = await post('/v2/userdata/channels/email/opt-out', { identifier: { email: 'R@x.io' } });
    expect([out.status, out.text]).toEqual([202, '']);
    await post('/v2/userdata/channels/sms/opt-in', { identifier: { phone: '+4915100000001' } });
    expect((await simState(sim.url)).recipients).toEqual({
      'r@x.io': { email: 'opted_out' },
      '+4915100000001': { sms: 'opted_in' },
    });
    expect((await post('/v2/userdata/channels/email/opt-in', {})).status).toBe(400);
    expect((await post('/v2/userdata/channels/email/opt-in', { identifier: {} })).status).toBe(400);
    expect((await post('/v2/userdata/channels/fax/opt-in', { identifier: { email: 'a@x.io' } })).status).toBe(
      400,
    );
    await post('/v2/userdata/channels/email/opt-in', { identifier: { email: 'r@x.io' } });
    expect((await simState(sim.url)).recipients['r@x.io']).toEqual({ email: 'opted_in' });
  });

  it('has no read-back: state is only visible through /__sim/state', async () => {
    expect(
      (await http(`${sim.url}/v2/userdata/channels/email/opt-in`, { headers: { 'DY-API-Key': apiKey } }))
        .status,
    ).toBe(501);
    const res = await control(sim.url, '/__sim/unsubscribe', { recipient: 'p1', channel: 'push' });
    expect(res.body).toMatchObject({ recipient: 'p1', channel: 'push', webhook: false });
    expect((await simState(sim.url)).recipients.p1).toEqual({ push: 'opted_out' });
  });

  it('applies an optional rate limit (NOT FOUND in the docs; off by default)', async () => {
    const limited = await startSimulator('dynamic-yield', { rateLimitPerSecond: 2 });
    try {
      const body = jsonInit('POST', collect([{ name: 'x', properties: {} }]), { 'DY-API-Key': apiKey });
      const results = await Promise.all(
        Array.from({ length: 3 }, () => http(`${limited.url}/v2/collect/user/event`, body)),
      );
      expect(results.map((r) => r.status).sort()).toEqual([204, 204, 429]);
    } finally {
      await limited.close();
    }
  });
});
