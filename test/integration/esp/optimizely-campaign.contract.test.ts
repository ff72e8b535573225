import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SimulatorHandle, simulatorCredentials, startSimulator } from '../../../src/simulators/index.js';
import { adapterFor, contact, decided, pushError, pushOne, statusMatrix } from './support.js';

/** Optimizely Campaign adapter against its simulator: REST (§1.2) and the HTTP API form service (§1.1). */
let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator('optimizely-campaign');
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const CLIENT = simulatorCredentials['optimizely-campaign'].clientId;
const UNSUBSCRIBES = `/rest/${CLIENT}/unsubscribes`;
const rest = (env: Record<string, string> = {}) => adapterFor('optimizely-campaign', sim.url, env);
const http = (env: Record<string, string> = {}) =>
  adapterFor('optimizely-campaign', sim.url, { OPTIMIZELY_WRITE_API: 'http', ...env });
const consent = (recipient: string) => sim.state().recipients[recipient];
const optOut = (id: string) => contact(id, { email: `${id}@example.com` }, { email: decided('opted_out') });
const optIn = (id: string) =>
  contact(id, { email: `${id}@example.com` }, { email: decided('opted_in', { authoritative: true }) });

describe('REST API (§1.2)', () => {
  it('unsubscribes a batch in one bulk request', async () => {
    const contacts = ['a', 'b', 'c'].map(optOut);
    const out = await rest().push(contacts);
    expect([...out.values()]).toEqual([{ kind: 'pushed' }, { kind: 'pushed' }, { kind: 'pushed' }]);
    const posts = sim.requests().filter((r) => r.method === 'POST' && r.path === UNSUBSCRIBES);
    expect(posts).toHaveLength(1);
    expect(posts[0]?.body).toMatchObject({
      recipientIds: 'a@example.com,b@example.com,c@example.com',
      mediaType: 'EMAIL',
    });
    expect(posts[0]?.headers['authorization']).toBe('Basic ***');
    expect(consent('b@example.com')?.email).toBe('opted_out');
  });

  it('maps a partial success: unsuccessfulIds are dead letters', async () => {
    sim.setFaults({
      rules: [
        {
          path: UNSUBSCRIBES,
          steps: [
            { status: 200, body: { successfulIds: ['a@example.com'], unsuccessfulIds: ['b@example.com'] } },
          ],
        },
      ],
    });
    const out = await rest().push(['a', 'b'].map(optOut));
    expect(out.get('a')).toEqual({ kind: 'pushed' });
    expect(out.get('b')).toEqual({ kind: 'dead_letter', reason: expect.stringMatching(/unsuccessful/) });
  });

  it('re-subscribes with DELETE (EMAIL and GLOBAL); a never-unsubscribed recipient is already in state', async () => {
    const a = rest();
    await pushOne(a, optOut('a'));
    expect(await pushOne(a, optIn('a'))).toEqual({ kind: 'pushed' });
    expect(consent('a@example.com')?.email).toBe('opted_in');
    expect(await pushOne(a, optIn('z'))).toEqual({ kind: 'already_in_state' });
    const deletes = sim.requests().filter((r) => r.method === 'DELETE');
    expect(deletes.map((r) => `${r.query['mediaType']} ${r.status}`)).toEqual([
      'EMAIL 204',
      'GLOBAL 404',
      'EMAIL 404',
      'GLOBAL 404',
    ]);
  });

  it('lifts a GLOBAL unsubscribe made at the ESP (list-unsubscribe) on a forced re-opt-in', async () => {
    await sim.unsubscribe({ recipient: 'a@example.com', channel: 'email', type: 'list_unsubscribe' });
    expect(consent('a@example.com')?.email).toBe('opted_out');
    expect(await pushOne(rest(), optIn('a'))).toEqual({ kind: 'pushed' });
    expect(consent('a@example.com')?.email).toBe('opted_in');
  });

  it('tracking opt-out: 201, and 406 (feature off) → not_applicable', async () => {
    const c = contact('t', { email: 't@example.com' }, {}, decided('opted_out'));
    expect(await pushOne(rest(), c)).toEqual({ kind: 'pushed' });
    expect(consent('t@example.com')?.tracking).toBe('opted_out');
    sim.setFaults({
      rules: [{ path: `/rest/${CLIENT}/recipients/trackingoptout`, steps: [{ status: 406 }] }],
    });
    expect(await pushOne(rest(), c)).toEqual({
      kind: 'not_applicable',
      detail: expect.stringMatching(/406/),
    });
  });

  it('blocklist mode adds and removes an exact entry', async () => {
    const a = rest({ OPTIMIZELY_OPTOUT_ACTION: 'blacklist' });
    expect(await pushOne(a, optOut('x'))).toEqual({ kind: 'pushed' });
    expect(consent('x@example.com')?.email).toBe('opted_out');
    expect(await pushOne(a, optIn('x'))).toEqual({ kind: 'pushed' });
    expect(await pushOne(a, optIn('x'))).toEqual({ kind: 'already_in_state' });
  });

  it('wrong REST credentials → auth', async () => {
    expect(await pushError(rest({ OPTIMIZELY_API_PASSWORD: 'nope' }), optOut('a'))).toMatchObject({
      kind: 'auth',
      status: 401,
    });
  });
});

describe('REST status matrix on POST /unsubscribes', () => {
  statusMatrix({
    sim: () => sim,
    adapter: rest,
    contact: optOut('m'),
    route: { method: 'POST', path: UNSUBSCRIBES },
    retries429Inline: false,
  });
});

describe('HTTP API form service (§1.1)', () => {
  it('unsubscribe → ok, then ok: already_unsubscribed → already_in_state', async () => {
    const a = http();
    expect(await pushOne(a, optOut('h'))).toEqual({ kind: 'pushed' });
    expect(consent('h@example.com')?.email).toBe('opted_out');
    expect(await pushOne(a, optOut('h'))).toEqual({ kind: 'already_in_state' });
    const [first] = sim.requests();
    expect(first?.path).toBe('/http/form/***/unsubscribe');
    expect(first?.body).toMatchObject({ bmRecipientId: 'h@example.com', bmVerbose: 'true' });
  });

  it('subscribe of an unsubscribed recipient → reactivation_blocked', async () => {
    const a = http();
    await pushOne(a, optOut('h'));
    expect(await pushOne(a, optIn('h'))).toEqual({
      kind: 'reactivation_blocked',
      reason: expect.stringMatching(/opt-in process/),
    });
  });

  it('a wrong authorization code → wrong_tag 501 → auth', async () => {
    const err = await pushError(http({ OPTIMIZELY_FORM_AUTH_CODE: 'WRONGCODE' }), optOut('h'));
    expect(err).toMatchObject({
      kind: 'auth',
      message: expect.stringMatching(/wrong_tag 501: wrong authentication tag/),
    });
  });

  it('createtrackingoptout → ok; vetoed → not_applicable', async () => {
    const c = contact('t', { email: 't@example.com' }, {}, decided('opted_out'));
    expect(await pushOne(http(), c)).toEqual({ kind: 'pushed' });
    expect(consent('t@example.com')?.tracking).toBe('opted_out');
    sim.setFaults({ rules: [{ path: '/http/form/', steps: [{ status: 200, body: 'vetoed' }] }] });
    expect(await pushOne(http(), c)).toEqual({
      kind: 'not_applicable',
      detail: expect.stringMatching(/vetoed/),
    });
  });

  const token = (body: string, times = 1) =>
    sim.setFaults({ rules: [{ path: '/http/form/', steps: Array(times).fill({ status: 200, body }) }] });

  it.each([
    ['ok', { kind: 'pushed' }],
    ['ok: already_unsubscribed', { kind: 'already_in_state' }],
    ['ok: not_found', { kind: 'already_in_state' }],
    ['enqueued', { kind: 'pushed' }],
    ['missing_id', { kind: 'dead_letter', reason: expect.stringMatching(/missing_id/) }],
    ['gibberish', { kind: 'dead_letter', reason: expect.stringMatching(/unrecognised/) }],
  ])('unsubscribe token %j → %j', async (body, expected) => {
    token(body);
    expect(await pushOne(http(), optOut('h'))).toEqual(expected);
  });

  it.each([
    ['ok:update', { kind: 'pushed' }],
    ['duplicate', { kind: 'already_in_state' }],
    ['blacklisted', { kind: 'reactivation_blocked', reason: expect.stringMatching(/blacklisted/) }],
    ['unsubscribed', { kind: 'reactivation_blocked', reason: expect.stringMatching(/unsubscribed/) }],
  ])('subscribe token %j → %j', async (body, expected) => {
    token(body);
    expect(await pushOne(http(), optIn('h'))).toEqual(expected);
  });

  it.each([501, 502, 503, 504, 505, 506, 507])(
    'wrong_tag: %i → auth (configuration), no retry',
    async (code) => {
      token(`wrong_tag: ${code}`);
      expect(await pushError(http(), optOut('h'))).toMatchObject({
        kind: 'auth',
        message: expect.stringContaining(`wrong_tag ${code}`),
      });
      expect(sim.requests()).toHaveLength(1);
    },
  );

  it('system_error is retried in the job; three in a row → retryable', async () => {
    token('system_error');
    expect(await pushOne(http(), optOut('h'))).toEqual({ kind: 'pushed' });
    expect(sim.requests()).toHaveLength(2);
    sim.reset();
    token('system_error', 3);
    expect(await pushError(http(), optOut('h'))).toMatchObject({
      kind: 'retryable',
      message: expect.stringMatching(/system_error/),
    });
  });
});

describe('HTTP API status matrix', () => {
  statusMatrix({
    sim: () => sim,
    adapter: http,
    contact: optOut('m'),
    route: { method: 'POST', path: '/http/form/' },
    retries429Inline: false,
  });
});
