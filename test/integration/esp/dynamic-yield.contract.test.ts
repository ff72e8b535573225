import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashEmail } from '../../../src/esp/dynamic-yield/dynamic-yield.mapping.js';
import { type SimulatorHandle, startSimulator } from '../../../src/simulators/index.js';
import { adapterFor, contact, decided, pushError, pushOne, statusMatrix } from './support.js';

/** Dynamic Yield adapter against its simulator (esp-contracts.md §4). */
let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator('dynamic-yield');
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const adapter = (env: Record<string, string> = {}) => adapterFor('dynamic-yield', sim.url, env);
const ids = { externalId: 'ext-1', email: 'Dy@Example.com', phone: '+4915112345678', pushId: 'push-1' };

describe('Reconnect endpoints (§4.3)', () => {
  it('opts email and sms in/out; push goes as a message event', async () => {
    const c = contact('c1', ids, {
      email: decided('opted_out'),
      sms: decided('opted_in'),
      push: decided('opted_out'),
    });
    expect(await pushOne(adapter(), c)).toEqual({ kind: 'pushed' });
    const { recipients } = sim.state();
    expect(recipients['dy@example.com']?.email).toBe('opted_out');
    expect(recipients['+4915112345678']?.sms).toBe('opted_in');
    expect(recipients['push-1']?.push).toBe('opted_out');
    expect(sim.requests().map((r) => `${r.path} ${r.status}`)).toEqual([
      '/v2/userdata/channels/email/opt-out 202',
      '/v2/userdata/channels/sms/opt-in 202',
      '/v2/collect/user/event 204',
    ]);
    expect(sim.requests()[0]?.headers['dy-api-key']).toBe('***');
  });
});

describe('event API (§4.2)', () => {
  it('email opt-out by address, opt-in by hashed address', async () => {
    const a = adapter({ DY_API: 'event' });
    expect(await pushOne(a, contact('c1', ids, { email: decided('opted_out') }))).toEqual({ kind: 'pushed' });
    expect(sim.state().recipients['dy@example.com']?.email).toBe('opted_out');
    expect(await pushOne(a, contact('c1', ids, { email: decided('opted_in') }))).toEqual({ kind: 'pushed' });
    expect(sim.state().recipients[hashEmail('dy@example.com')]?.email).toBe('opted_in');
  });

  it('push opt-in carries channelType', async () => {
    expect(
      await pushOne(
        adapter({ DY_PUSH_CHANNEL_TYPE: 'WEB_PUSH' }),
        contact('c1', ids, { push: decided('opted_in') }),
      ),
    ).toEqual({
      kind: 'pushed',
    });
    const body = sim.requests()[0]?.body as { events: { properties: Record<string, string> }[] };
    expect(body.events[0]?.properties).toEqual({
      dyType: 'message-optin-v1',
      pushID: 'push-1',
      channelType: 'WEB_PUSH',
    });
  });
});

describe('errors', () => {
  it('a bad key → auth; a missing push token → missing_identity', async () => {
    expect(
      await pushError(adapter({ DY_API_KEY: 'nope' }), contact('c1', ids, { email: decided('opted_out') })),
    ).toMatchObject({
      kind: 'auth',
    });
    expect(
      await pushOne(adapter(), contact('c2', { email: 'a@example.com' }, { push: decided('opted_out') })),
    ).toMatchObject({
      kind: 'missing_identity',
    });
  });
});

describe('status matrix on the Reconnect opt-out', () => {
  statusMatrix({
    sim: () => sim,
    adapter,
    contact: contact('c1', { email: 'm@example.com' }, { email: decided('opted_out') }),
    route: { method: 'POST', path: '/v2/userdata/channels/email/opt-out' },
    retries429Inline: false,
  });
});

describe('keyed Reconnect identifier (NOT FOUND §4.3)', () => {
  it('is accepted by the simulator as well', async () => {
    const a = adapter({ DY_RECONNECT_IDENTIFIER: 'keyed' });
    expect(await pushOne(a, contact('c1', ids, { email: decided('opted_out') }))).toEqual({ kind: 'pushed' });
    expect(sim.requests()[0]?.body).toEqual({ identifier: { email: 'Dy@Example.com' } });
    expect(sim.state().recipients['dy@example.com']?.email).toBe('opted_out');
  });
});
