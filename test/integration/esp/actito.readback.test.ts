import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActitoReadBack } from '../../../src/esp/actito/actito.readback.js';
import { EspError } from '../../../src/esp/kit/http/errors.js';
import type { ContactReadBack, RemoteSuppression } from '../../../src/esp/readback.js';
import { type SimulatorHandle, startSimulator } from '../../../src/simulators/index.js';
import { adapterFor, contact, decided, MOMENT, pushOne, settingsFor, silentLogger } from './support.js';

/** Actito read-back against its simulator, over real HTTP (esp-contracts.md §3.1, §3.3, §3.4). */
let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator('actito', { channelSubscriptions: { email: 'Newsletter', sms: 'SMS_News' } });
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const ENV = { ACTITO_SUBSCRIPTIONS: 'sms:SMS_News' };
const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const PROFILE = '/v4/entity/sim/table/contacts/profile';
const readBack = (env: Record<string, string> = {}): ContactReadBack =>
  createActitoReadBack(settingsFor('actito', sim.url, { ...ENV, ...env }), silentLogger, () => NOW);
const states = (items: RemoteSuppression[] | string) =>
  typeof items === 'string'
    ? items
    : Object.fromEntries(items.map((i) => [i.channel, `${i.state}/${i.type}`]));

describe('profile read-back (§3.4): marketingConsent, subscriptions, tracking', () => {
  it('reads back what the adapter pushed, with the data collection moment', async () => {
    await pushOne(
      adapterFor('actito', sim.url, ENV),
      contact(
        'c1',
        { email: 'ann@example.com' },
        { email: decided('opted_out'), sms: decided('opted_in') },
        decided('opted_out'),
      ),
    );
    const before = Date.now();
    const items = await readBack().readContact({ email: 'ann@example.com' });
    // every channel is bounded by the profile's updateMoment: the push just made moved it
    const changed = Array.isArray(items) ? items[0]?.lastChangedAt : undefined;
    expect(Date.parse(changed ?? '')).toBeLessThanOrEqual(before);
    expect(Date.parse(changed ?? '')).toBeGreaterThan(Date.parse(MOMENT));
    expect(items).toEqual([
      {
        identity: { email: 'ann@example.com' },
        channel: 'email',
        state: 'opted_out',
        at: MOMENT,
        type: 'marketing_consent',
        lastChangedAt: changed,
      },
      {
        identity: { email: 'ann@example.com' },
        channel: 'sms',
        state: 'opted_in',
        at: MOMENT,
        type: 'subscription:SMS_News',
        lastChangedAt: changed,
      },
      {
        identity: { email: 'ann@example.com' },
        channel: 'tracking',
        state: 'opted_out',
        at: MOMENT,
        type: 'tracking_consent',
        lastChangedAt: changed,
      },
    ]);
    const read = sim.requests().find((r) => r.method === 'GET' && r.path.startsWith(PROFILE));
    expect(read?.path).toMatch(/\/profile\/emailAddress=ann(@|%40)example\.com$/);
    expect(read?.headers['authorization']).toBe('Bearer ***');
  });

  it('an unsubscribe made at Actito (subscription) is read with its moment', async () => {
    await pushOne(
      adapterFor('actito', sim.url, ENV),
      contact('c1', { email: 'bob@example.com' }, { email: decided('opted_in'), sms: decided('opted_in') }),
    );
    await sim.unsubscribe({
      recipient: 'bob@example.com',
      channel: 'sms',
      type: 'sms_stop',
      at: '2025-06-01T08:00:00Z',
    });
    expect(states(await readBack().readContact({ email: 'bob@example.com' }))).toEqual({
      email: 'opted_in/marketing_consent',
      sms: 'opted_out/subscription:SMS_News',
    });
    const items = (await readBack().readContact({ email: 'bob@example.com' })) as RemoteSuppression[];
    expect(items.find((i) => i.channel === 'sms')?.at).toBe('2025-06-01T08:00:00.000Z');
  });

  it('reads the subscription list when the profile JSON does not carry subscriptions', async () => {
    await pushOne(
      adapterFor('actito', sim.url, ENV),
      contact('c1', { email: 'cy@example.com' }, { sms: decided('opted_out') }),
    );
    sim.setFaults({
      rules: [
        {
          method: 'GET',
          path: PROFILE,
          steps: [
            {
              status: 200,
              body: { profileId: 1, attributes: [{ name: 'emailAddress', value: 'cy@example.com' }] },
            },
          ],
        },
      ],
    });
    expect(states(await readBack().readContact({ email: 'cy@example.com' }))).toEqual({
      sms: 'opted_out/subscription:SMS_News',
    });
    expect(sim.requests().some((r) => r.path === `${PROFILE}/1/subscription`)).toBe(true);
  });

  it('unknown profile → unknown_contact; no email → not_readable', async () => {
    const rb = readBack();
    expect(await rb.readContact({ email: 'nobody@example.com' })).toBe('unknown_contact');
    expect(await rb.readContact({ externalId: 'x' })).toBe('not_readable');
  });
});

describe('token (§3.1) and errors', () => {
  it('the token is fetched once, and refreshed once after it expired', async () => {
    await pushOne(
      adapterFor('actito', sim.url, ENV),
      contact('c1', { email: 'ann@example.com' }, { email: decided('opted_out') }),
    );
    const rb = readBack();
    await rb.readContact({ email: 'ann@example.com' });
    await rb.readContact({ email: 'ann@example.com' });
    const tokens = () => sim.requests().filter((r) => r.path === '/auth/token').length;
    const before = tokens();
    await fetch(`${sim.url}/__sim/expire-tokens`, { method: 'POST' });
    expect(states(await rb.readContact({ email: 'ann@example.com' }))).toEqual({
      email: 'opted_out/marketing_consent',
    });
    expect(tokens()).toBe(before + 1);
  });

  it('wrong API key → EspError auth', async () => {
    const err = await readBack({ ACTITO_API_KEY: 'wrong' })
      .readContact({ email: 'ann@example.com' })
      .catch((e: unknown) => e);
    expect(EspError.is(err)).toBe(true);
    expect(err).toMatchObject({ kind: 'auth', status: 401, esp: 'actito' });
  });

  it('503 three times → EspError retryable; once → retried', async () => {
    await pushOne(
      adapterFor('actito', sim.url, ENV),
      contact('c1', { email: 'ann@example.com' }, { email: decided('opted_out') }),
    );
    const rb = readBack();
    await rb.readContact({ email: 'ann@example.com' }); // the token is cached; only profile reads are faulted
    const fault = (n: number) =>
      sim.setFaults({
        rules: [{ method: 'GET', path: PROFILE, steps: Array.from({ length: n }, () => ({ status: 503 })) }],
      });
    fault(1);
    expect(states(await rb.readContact({ email: 'ann@example.com' }))).toEqual({
      email: 'opted_out/marketing_consent',
    });
    fault(3);
    const err = await rb.readContact({ email: 'ann@example.com' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'EspError', kind: 'retryable', status: 503 });
  });
});
