import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { simulatorConnectionEnv } from '../../../src/dev/simulator-env.js';
import { type SimulatorHandle, startSimulator } from '../../../src/simulators/index.js';
import { adapterFor, contact, decided, MOMENT, pushError, pushOne, statusMatrix } from './support.js';

/** Actito adapter against the Actito simulator (esp-contracts.md §3). */
let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator('actito');
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const adapter = (env: Record<string, string> = {}) => adapterFor('actito', sim.url, env);
const PROFILE = '/v4/entity/sim/table/contacts/profile';
const tokenRequests = () => sim.requests().filter((r) => r.path === '/auth/token').length;
const expireTokens = () => fetch(`${sim.url}/__sim/expire-tokens`, { method: 'POST' });

describe('profile upsert (§3.3)', () => {
  it('writes marketingConsent, tracking consent and the data collection information', async () => {
    const c = contact(
      'c1',
      { email: 'ann@example.com' },
      { email: decided('opted_out', { source: 'list_unsubscribe' }) },
      decided('opted_out'),
    );
    expect(await pushOne(adapter(), c)).toEqual({ kind: 'pushed' });
    expect(sim.state().recipients['ann@example.com']).toMatchObject({
      email: 'opted_out',
      tracking: 'opted_out',
    });
    const upsert = sim.requests().find((r) => r.path === PROFILE);
    expect(upsert?.headers['authorization']).toBe('Bearer ***');
    expect(upsert?.body).toMatchObject({
      attributes: [
        { name: 'emailAddress', value: 'ann@example.com' },
        { name: 'marketingConsent', value: false },
        { name: 'trackingConsent', value: false },
      ],
      dataCollectionInformation: {
        source: 'list_unsubscribe',
        way: 'api_push',
        date: MOMENT.slice(0, 19).replace('T', ' '),
      },
    });
  });

  it('re-opts-in and sets configured subscriptions', async () => {
    const a = adapter({ ACTITO_SUBSCRIPTIONS: 'email:Newsletter' });
    await pushOne(a, contact('c1', { email: 'ann@example.com' }, { email: decided('opted_out') }));
    expect(sim.state().recipients['ann@example.com']?.email).toBe('opted_out');
    await pushOne(
      a,
      contact('c1', { email: 'ann@example.com' }, { email: decided('opted_in', { authoritative: true }) }),
    );
    expect(sim.state().recipients['ann@example.com']?.email).toBe('opted_in');
  });
});

describe('SMS through the subscription dev and the simulator configure', () => {
  const devSubscriptions = () => ({ ACTITO_SUBSCRIPTIONS: simulatorConnectionEnv('actito', sim.url)['ACTITO_SUBSCRIPTIONS']! });

  it('dev maps sms to a subscription the simulator holds, both ways', async () => {
    const a = adapterFor('actito', sim.url, devSubscriptions(), { channels: true });
    const who = { email: 'sms@example.com', phone: '+4915100000001' };
    expect(await pushOne(a, contact('c1', who, { email: decided('opted_in'), sms: decided('opted_out') }))).toMatchObject({
      kind: 'pushed',
      channels: { email: { kind: 'pushed' }, sms: { kind: 'pushed' } },
    });
    expect(sim.state().recipients['sms@example.com']).toMatchObject({ email: 'opted_in', sms: 'opted_out' });
    await pushOne(a, contact('c1', who, { email: decided('opted_in'), sms: decided('opted_in') }));
    expect(sim.state().recipients['sms@example.com']).toMatchObject({ sms: 'opted_in' });
  });

  it('an SMS opt-in while marketingConsent is false is set on the subscription but says it cannot take effect', async () => {
    const a = adapterFor('actito', sim.url, devSubscriptions(), { channels: true });
    const outcome = await pushOne(a, contact('c1', { email: 'gate@example.com' }, { email: decided('opted_out'), sms: decided('opted_in') }));
    expect(outcome?.channels?.['email']).toEqual({ kind: 'pushed' });
    expect(outcome?.channels?.['sms']).toMatchObject({ kind: 'not_applicable', reason: expect.stringContaining('marketingConsent') });
    const upsert = sim.requests().find((r) => r.path === PROFILE);
    expect((upsert?.body as { subscriptions?: unknown[] } | undefined)?.subscriptions).toContainEqual({ name: 'SMS_News', subscribe: true });
    // what the simulator holds agrees: marketingConsent=false filters SMS campaigns too
    expect(sim.state().recipients['gate@example.com']).toMatchObject({ email: 'opted_out', sms: 'opted_out' });
  });
});

describe('token (§3.1)', () => {
  it('is fetched once and reused across pushes', async () => {
    const a = adapter();
    for (const id of ['c1', 'c2', 'c3'])
      await pushOne(a, contact(id, { email: `${id}@example.com` }, { email: decided('opted_in') }));
    expect(tokenRequests()).toBe(1);
  });

  it('is refreshed once on 401, then the push succeeds', async () => {
    const a = adapter();
    await pushOne(a, contact('c1', { email: 'a@example.com' }, { email: decided('opted_in') }));
    await expireTokens();
    expect(
      await pushOne(a, contact('c2', { email: 'b@example.com' }, { email: decided('opted_out') })),
    ).toEqual({ kind: 'pushed' });
    expect(tokenRequests()).toBe(2);
  });

  it('a second 401 after the refresh is an auth failure', async () => {
    sim.setFaults({ rules: [{ method: 'POST', path: PROFILE, steps: [{ status: 401 }, { status: 401 }] }] });
    expect(
      await pushError(adapter(), contact('c1', { email: 'a@example.com' }, { email: decided('opted_out') })),
    ).toMatchObject({
      kind: 'auth',
      status: 401,
    });
    expect(tokenRequests()).toBe(2);
  });

  it('a rejected API key is an auth failure', async () => {
    const err = await pushError(
      adapter({ ACTITO_API_KEY: 'wrong-key' }),
      contact('c1', { email: 'a@example.com' }, { email: decided('opted_out') }),
    );
    expect(err).toMatchObject({ kind: 'auth', status: 401 });
  });
});

describe('concurrency (§3.2: 5 in flight per licence, the 6th gets 429)', () => {
  it('never exceeds 5 requests in flight, so 20 concurrent contacts see no 429', async () => {
    sim.setFaults({ latencyMs: 30 });
    const a = adapter();
    const contacts = Array.from({ length: 20 }, (_, i) =>
      contact(`c${i}`, { email: `p${i}@example.com` }, { email: decided('opted_out') }),
    );
    const results = await Promise.all(contacts.map((c) => a.push([c])));
    expect(results.every((m) => [...m.values()].every((o) => o.kind === 'pushed'))).toBe(true);
    expect(sim.requests().filter((r) => r.status === 429)).toEqual([]);
  });

  it('a client that ignores the cap gets 429s, which the adapter retries', async () => {
    sim.setFaults({ latencyMs: 30 });
    const a = adapter();
    const b = adapter();
    const c = adapter();
    const contacts = Array.from({ length: 15 }, (_, i) =>
      contact(`c${i}`, { email: `q${i}@example.com` }, { email: decided('opted_in') }),
    );
    const adapters = [a, b, c];
    const results = await Promise.allSettled(contacts.map((x, i) => (adapters[i % 3] ?? a).push([x])));
    expect(sim.requests().some((r) => r.status === 429)).toBe(true);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThan(0);
  });
});

describe('status matrix on the profile upsert', () => {
  statusMatrix({
    sim: () => sim,
    adapter,
    contact: contact('c1', { email: 'm@example.com' }, { email: decided('opted_out') }),
    route: { method: 'POST', path: PROFILE },
    retries429Inline: true,
    prepare: async () => {
      sim.reset();
    },
  });
});
