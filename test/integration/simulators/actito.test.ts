/** Actito simulator honours esp-contracts.md §3 (token auth, consent upsert, read-back, 5 in flight, webhooks). */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SimulatorHandle, simulatorCredentials, startSimulator } from '../../../src/simulators/index.js';
import { control, http, jsonInit, simState, startReceiver, waitFor } from './helpers.js';

const creds = simulatorCredentials.actito;
const BASE = `/v4/entity/${creds.entity}/table/${creds.profileTable}/profile`;

const profileBody = (email: string, extra: Record<string, unknown> = {}) => ({
  attributes: [
    { name: 'emailAddress', value: email },
    { name: 'marketingConsent', value: false },
    { name: 'trackingAllowed', value: false },
  ],
  subscriptions: [{ name: 'Newsletter', subscribe: false }],
  dataCollectionInformation: { source: 'consent-sync', way: 'api_push', date: '2024-01-31 12:00:00' },
  ...extra,
});

describe('actito simulator', () => {
  let sim: SimulatorHandle;
  let clock = Date.parse('2024-02-01T00:00:00Z');
  let token = '';
  const auth = () => ({ authorization: `Bearer ${token}`, accept: 'application/json' });
  const getToken = async (key = creds.apiKey) =>
    http(`${sim.url}/auth/token`, { headers: { authorization: key, accept: 'application/json' } });

  beforeAll(async () => {
    sim = await startSimulator('actito', {
      trackingConsentAttribute: 'trackingAllowed',
      now: () => new Date(clock),
    });
  });
  afterAll(() => sim.close());
  beforeEach(async () => {
    sim.reset();
    token = ((await getToken()).body as { accessToken: string }).accessToken;
  });

  it('issues a 15-minute bearer token for the raw API key, 401 for a wrong key', async () => {
    const res = await getToken();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tokenType: 'bearer', expiresIn: '900s', scope: 'read write' });
    expect((await getToken('wrong')).status).toBe(401);
    expect((await getToken(`Bearer ${creds.apiKey}`)).status).toBe(401);
  });

  it('rejects a missing, invalid or expired token with 401', async () => {
    expect((await http(`${sim.url}${BASE}/1`)).status).toBe(401);
    expect((await http(`${sim.url}${BASE}/1`, { headers: { authorization: 'Bearer nope' } })).status).toBe(
      401,
    );
    expect((await http(`${sim.url}${BASE}`, jsonInit('POST', profileBody('a@x.io'), auth()))).status).toBe(
      200,
    );
    clock += 899_000;
    expect((await http(`${sim.url}${BASE}/1`, { headers: auth() })).status).toBe(200);
    clock += 2_000;
    expect((await http(`${sim.url}${BASE}/1`, { headers: auth() })).status).toBe(401);
    token = ((await getToken()).body as { accessToken: string }).accessToken;
    expect((await http(`${sim.url}${BASE}/1`, { headers: auth() })).status).toBe(200);
    await control(sim.url, '/__sim/expire-tokens');
    expect((await http(`${sim.url}${BASE}/1`, { headers: auth() })).status).toBe(401);
  });

  it('answers 406 for an Accept header without JSON, 404 for an unknown table', async () => {
    expect((await http(`${sim.url}${BASE}/1`, { headers: { ...auth(), accept: 'text/html' } })).status).toBe(
      406,
    );
    expect(
      (await http(`${sim.url}/v4/entity/${creds.entity}/table/other/profile/1`, { headers: auth() })).status,
    ).toBe(404);
  });

  it('upserts consent with its collection metadata and reads it back', async () => {
    const res = await http(`${sim.url}${BASE}`, jsonInit('POST', profileBody('A@X.io'), auth()));
    expect(res.body).toEqual({ profileId: 1 });
    const again = await http(
      `${sim.url}${BASE}`,
      jsonInit('POST', profileBody('a@x.io', { subscriptions: [] }), auth()),
    );
    expect(again.body).toEqual({ profileId: 1 });
    const state = await simState(sim.url);
    expect(state.recipients['a@x.io']).toEqual({ email: 'opted_out', tracking: 'opted_out' });
    const detail = (state.profiles as Record<string, { consentInformation: Record<string, unknown> }>)[
      'a@x.io'
    ];
    expect(detail?.consentInformation.marketingConsent).toEqual({
      value: false,
      source: 'consent-sync',
      way: 'api_push',
      date: '2024-01-31 12:00:00',
    });

    const byKey = await http(`${sim.url}${BASE}/emailAddress=a@x.io`, { headers: auth() });
    expect(byKey.body).toMatchObject({
      profileId: 1,
      attributes: expect.arrayContaining([{ name: 'marketingConsent', value: false }]),
      subscriptions: [{ name: 'Newsletter', subscribe: false }],
      dataCollectionInformation: { source: 'consent-sync', way: 'api_push', date: '2024-01-31 12:00:00' },
    });
    expect((await http(`${sim.url}${BASE}/1/subscription`, { headers: auth() })).body).toEqual({
      subscriptions: [{ name: 'Newsletter', subscribe: false }],
    });
    expect((await http(`${sim.url}${BASE}/99`, { headers: auth() })).status).toBe(404);
  });

  it('re-subscribes through the subscription routes and the upsert', async () => {
    await http(`${sim.url}${BASE}`, jsonInit('POST', profileBody('b@x.io'), auth()));
    expect(
      (
        await http(`${sim.url}${BASE}/emailAddress=b@x.io/subscription/Newsletter`, {
          method: 'POST',
          headers: auth(),
        })
      ).status,
    ).toBe(200);
    expect((await simState(sim.url)).recipients['b@x.io']?.email).toBe('opted_out'); // marketingConsent is still false
    const optIn = profileBody('b@x.io', {
      attributes: [
        { name: 'emailAddress', value: 'b@x.io' },
        { name: 'marketingConsent', value: true },
        { name: 'trackingAllowed', value: true },
      ],
    });
    await http(`${sim.url}${BASE}`, jsonInit('POST', { ...optIn, subscriptions: [] }, auth()));
    expect((await simState(sim.url)).recipients['b@x.io']).toEqual({
      email: 'opted_in',
      tracking: 'opted_in',
    });
    await http(`${sim.url}${BASE}/1/subscription/Newsletter`, { method: 'DELETE', headers: auth() });
    expect((await simState(sim.url)).recipients['b@x.io']?.email).toBe('opted_out');
  });

  it('validates the body: unique key, Boolean consent, dataCollectionInformation date format', async () => {
    const post = (body: unknown) => http(`${sim.url}${BASE}`, jsonInit('POST', body, auth()));
    expect((await post({ attributes: [{ name: 'marketingConsent', value: false }] })).status).toBe(400);
    expect(
      (
        await post(
          profileBody('c@x.io', {
            attributes: [
              { name: 'emailAddress', value: 'c@x.io' },
              { name: 'marketingConsent', value: 'no' },
            ],
          }),
        )
      ).status,
    ).toBe(400);
    expect(
      (
        await post(
          profileBody('c@x.io', {
            dataCollectionInformation: { source: 's', way: 'api_push', date: '2024-01-31T12:00:00Z' },
          }),
        )
      ).status,
    ).toBe(400);
    expect(
      (
        await post(
          profileBody('c@x.io', { dataCollectionInformation: { source: 's', date: '2024-01-31 12:00:00' } }),
        )
      ).status,
    ).toBe(400);
    expect((await simState(sim.url)).recipients).toEqual({});
  });

  it('answers 429 to the 6th request in flight', async () => {
    sim.setFaults({ latencyMs: 400 });
    const results = await Promise.all(
      Array.from({ length: 6 }, () => http(`${sim.url}${BASE}/1`, { headers: auth() })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 429)).toHaveLength(1);
    expect(statuses.filter((s) => s !== 429)).toHaveLength(5);
    sim.setFaults({});
    expect((await http(`${sim.url}${BASE}/1`, { headers: auth() })).status).toBe(404);
  });

  it('slows calls above the per-minute budget instead of rejecting them', async () => {
    const slow = await startSimulator('actito', { callsPerMinute: 2, throttleDelayMs: 200 });
    try {
      const t = (
        (await http(`${slow.url}/auth/token`, { headers: { authorization: creds.apiKey } })).body as {
          accessToken: string;
        }
      ).accessToken;
      await http(`${slow.url}${BASE}/1`, { headers: { authorization: `Bearer ${t}` } });
      const t0 = performance.now();
      const third = await http(`${slow.url}${BASE}/1`, { headers: { authorization: `Bearer ${t}` } });
      expect(third.status).toBe(404);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    } finally {
      await slow.close();
    }
  });

  it('POSTs UPDATED_SUBSCRIPTION webhooks and acts out unsubscribes that the read-back shows', async () => {
    const receiver = await startReceiver();
    try {
      await control(sim.url, '/__sim/webhook-target', { url: receiver.url });
      const body = profileBody('w@x.io', {
        attributes: [
          { name: 'emailAddress', value: 'w@x.io' },
          { name: 'marketingConsent', value: true },
        ],
        subscriptions: [{ name: 'Newsletter', subscribe: true }],
      });
      await http(`${sim.url}${BASE}`, jsonInit('POST', body, auth()));
      const first = await waitFor(() =>
        receiver.received.find((r) => (r.body as { eventType: string }).eventType === 'UPDATED_SUBSCRIPTION'),
      );
      expect(first.body).toMatchObject({
        entity: creds.entity,
        profileTable: creds.profileTable,
        profileId: 1,
        uniqueIds: { emailAddress: 'w@x.io' },
        subscriptions: [{ name: 'Newsletter', subscribe: true }],
      });
      const res = await control(sim.url, '/__sim/unsubscribe', {
        recipient: 'w@x.io',
        type: 'unsubscribe_link',
      });
      expect(res.body).toMatchObject({
        recipient: 'w@x.io',
        channel: 'email',
        subscription: 'Newsletter',
        webhook: true,
      });
      await waitFor(() => (receiver.received.length >= 2 ? true : undefined));
      expect(receiver.received[1]?.body).toMatchObject({
        eventType: 'UPDATED_SUBSCRIPTION',
        subscriptions: [{ name: 'Newsletter', subscribe: false }],
      });
      expect((await http(`${sim.url}${BASE}/1/subscription`, { headers: auth() })).body).toEqual({
        subscriptions: [{ name: 'Newsletter', subscribe: false }],
      });
      expect((await simState(sim.url)).recipients['w@x.io']?.email).toBe('opted_out');
      expect((await control(sim.url, '/__sim/unsubscribe', { recipient: 'nobody@x.io' })).status).toBe(404);
    } finally {
      await receiver.close();
    }
  });
});
