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

  it('re-subscribes: GET the list, DELETE only who is on it (EMAIL and GLOBAL); a never-unsubscribed recipient is already in state', async () => {
    const a = rest();
    await pushOne(a, optOut('a'));
    expect(await pushOne(a, optIn('a'))).toEqual({ kind: 'pushed' });
    expect(consent('a@example.com')?.email).toBe('opted_in');
    expect(await pushOne(a, optIn('z'))).toEqual({ kind: 'already_in_state' });
    const reads = sim.requests().filter((r) => r.method !== 'POST');
    expect(reads.map((r) => `${r.method} ${r.query['mediaType']} ${r.status}`)).toEqual([
      'GET EMAIL 200',
      'DELETE EMAIL 204',
      'GET GLOBAL 200',
      'GET EMAIL 200',
      'GET GLOBAL 200',
    ]);
    expect(reads[1]?.query['recipientIds']).toBe('a@example.com');
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

  it('blocklist mode adds an exact entry per recipient and removes entries in one bulk DELETE (≤ 1000)', async () => {
    const a = rest({ OPTIMIZELY_OPTOUT_ACTION: 'blacklist' });
    expect([...(await a.push(['x', 'y'].map(optOut))).values()]).toEqual([
      { kind: 'pushed' },
      { kind: 'pushed' },
    ]);
    expect(consent('x@example.com')?.email).toBe('opted_out');
    expect([...(await a.push(['x', 'y'].map(optIn))).values()]).toEqual([
      { kind: 'pushed' },
      { kind: 'pushed' },
    ]);
    expect(consent('y@example.com')?.email).toBe('opted_in');
    const removals = sim.requests().filter((r) => r.method === 'DELETE');
    expect(removals).toHaveLength(1);
    expect(removals[0]).toMatchObject({ path: `/rest/${CLIENT}/blacklistentries`, status: 204 });
  });

  it('wrong REST credentials → auth', async () => {
    expect(await pushError(rest({ OPTIMIZELY_API_PASSWORD: 'nope' }), optOut('a'))).toMatchObject({
      kind: 'auth',
      status: 401,
    });
  });
});

describe('REST batches', () => {
  const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const count = (method: string, path = UNSUBSCRIBES) =>
    sim.requests().filter((r) => r.method === method && r.path === path).length;

  it.each([1, 150, 500])('%i email opt-outs → 1 POST /unsubscribes', async (n) => {
    const out = await rest().push(ids(n, 'o').map(optOut));
    expect([...out.values()].every((o) => o.kind === 'pushed')).toBe(true);
    expect(count('POST')).toBe(1);
    expect(sim.requests()).toHaveLength(1);
  });

  it('7000 opt-outs (OPTIMIZELY_MAX_BATCH 5000 in one push) → ⌈7000/5000⌉ = 2 POSTs, none over the limit', async () => {
    const out = await rest({ OPTIMIZELY_MAX_BATCH: '5000' }).push(ids(7000, 'm').map(optOut));
    expect(out.size).toBe(7000);
    expect([...out.values()].every((o) => o.kind === 'pushed')).toBe(true);
    const posts = sim.requests().filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.status)).toEqual([200, 200]);
  });

  it('opt-outs on three channels → one POST per media type', async () => {
    const c = (id: string) =>
      contact(
        id,
        { email: `${id}@example.com` },
        {
          email: decided('opted_out'),
          sms: decided('opted_out'),
          push: decided('opted_out'),
        },
      );
    await rest().push(ids(40, 'p').map(c));
    const posts = sim.requests().filter((r) => r.method === 'POST');
    expect(posts.map((r) => (r.body as { mediaType: string }).mediaType).sort()).toEqual([
      'EMAIL',
      'PUSH',
      'SMS',
    ]);
  });

  it('250 re-opt-ins, half of them unsubscribed → per 100 ids one GET and one DELETE per media type; exact outcomes', async () => {
    const a = rest();
    const all = ids(250, 'r');
    await a.push(all.filter((_, i) => i % 2 === 0).map(optOut));
    const before = sim.requests().length;
    const out = await a.push(all.map(optIn));
    for (const [i, id] of all.entries())
      expect(out.get(id)).toEqual(i % 2 === 0 ? { kind: 'pushed' } : { kind: 'already_in_state' });
    const made = sim.requests().slice(before);
    // EMAIL: 3 chunks × (GET + DELETE); GLOBAL: 3 GETs, nobody is on it, so no DELETE.
    expect(made.filter((r) => r.method === 'GET')).toHaveLength(6);
    expect(made.filter((r) => r.method === 'DELETE').map((r) => r.status)).toEqual([204, 204, 204]);
    expect(consent('r0@example.com')?.email).toBe('opted_in');
  });

  it('a mixed batch: the one recipient Optimizely lists as unsuccessful is the only dead letter', async () => {
    sim.setFaults({
      rules: [
        {
          method: 'POST',
          path: UNSUBSCRIBES,
          steps: [
            {
              status: 200,
              body: {
                successfulIds: ['g0@example.com', 'g1@example.com', 'g3@example.com'],
                unsuccessfulIds: ['G2@example.com'],
              },
            },
          ],
        },
      ],
    });
    const out = await rest().push(ids(4, 'g').map(optOut));
    expect(out.get('g2')).toEqual({ kind: 'dead_letter', reason: expect.stringMatching(/unsuccessful/) });
    for (const id of ['g0', 'g1', 'g3']) expect(out.get(id)).toEqual({ kind: 'pushed' });
  });

  it('a contact without a recipient id costs no request and does not fail the batch', async () => {
    const out = await rest().push([
      optOut('k1'),
      contact('k2', { phone: '+491234' }, { email: decided('opted_out') }),
    ]);
    expect(out.get('k1')).toEqual({ kind: 'pushed' });
    expect(out.get('k2')).toMatchObject({ kind: 'missing_identity' });
    expect(sim.requests()).toHaveLength(1);
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
