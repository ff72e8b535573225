import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SimulatorHandle, startSimulator } from '../../../src/simulators/index.js';
import { adapterFor, contact, decided, pushOne, statusMatrix } from './support.js';

/** CrossEngage adapter against the CrossEngage simulator (esp-contracts.md §2). */
let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator('crossengage');
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const adapter = (env: Record<string, string> = {}) => adapterFor('crossengage', sim.url, env);
const putAdapter = (env: Record<string, string> = {}) =>
  adapter({ CROSSENGAGE_USER_WRITE: 'optout-status', ...env });
const seed = (body: unknown) =>
  fetch(`${sim.url}/__sim/seed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const consent = (key: string) => sim.state().recipients[key];

describe('full users, CROSSENGAGE_USER_WRITE=optout-status: PUT /users/{externalId}/optout-status (§2.1)', () => {
  it('sets each channel with both CrossEngage headers', async () => {
    await seed({ users: [{ id: 'u1', email: 'u1@example.com' }] });
    const c = contact(
      'c1',
      { externalId: 'u1', email: 'u1@example.com' },
      { email: decided('opted_out'), push: decided('opted_out') },
    );
    expect(await pushOne(putAdapter(), c)).toEqual({ kind: 'pushed' });
    expect(consent('u1')).toMatchObject({ email: 'opted_out', push: 'opted_out' });
    const puts = sim.requests().filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.query['channelType'])).toEqual(['MAIL', 'PUSH_NOTIFICATION']);
    expect(puts[0]?.headers['x-xng-apiversion']).toBe('1');
    expect(puts[0]?.headers['x-xng-authtoken']).toBe('***');
    expect(puts[0]?.body).toEqual({ optOut: true });
  });

  it('re-opts-in a full user with optOut false', async () => {
    await seed({ users: [{ id: 'u1' }] });
    const a = putAdapter();
    await pushOne(a, contact('c1', { externalId: 'u1' }, { email: decided('opted_out') }));
    expect(
      await pushOne(
        a,
        contact('c1', { externalId: 'u1' }, { email: decided('opted_in', { authoritative: true }) }),
      ),
    ).toEqual({
      kind: 'pushed',
    });
    expect(consent('u1')?.email).toBe('opted_in');
  });

  it('404 unknown user: an opt-out falls back to the lead event by email', async () => {
    const c = contact(
      'c1',
      { externalId: 'ghost', email: 'Ghost@Example.com', businessUnit: 'de' },
      { email: decided('opted_out') },
    );
    expect(await pushOne(putAdapter(), c)).toEqual({ kind: 'pushed' });
    expect(consent('lead:de:ghost@example.com')?.email).toBe('opted_out');
    expect(sim.requests().map((r) => `${r.method} ${r.status}`)).toEqual(['PUT 404', 'POST 202']);
  });

  it('404 unknown user without fallback, or for an opt-in → missing_identity', async () => {
    const optOut = contact(
      'c1',
      { externalId: 'ghost', email: 'g@example.com' },
      { email: decided('opted_out') },
    );
    expect(await pushOne(putAdapter({ CROSSENGAGE_LEAD_FALLBACK_ON_404: 'false' }), optOut)).toEqual({
      kind: 'missing_identity',
      detail: expect.stringMatching(/404/),
    });
    const optIn = contact('c2', { externalId: 'ghost' }, { email: decided('opted_in') });
    expect(await pushOne(putAdapter(), optIn)).toMatchObject({ kind: 'missing_identity' });
  });
});

describe('leads: POST /events "Opt Out" (§2.2)', () => {
  it('opts a lead out per channel with channel.type at event level', async () => {
    const c = contact(
      'c1',
      { email: 'lead@example.com', businessUnit: 'at' },
      { email: decided('opted_out'), sms: decided('opted_out') },
    );
    expect(await pushOne(adapter(), c)).toEqual({ kind: 'pushed' });
    expect(consent('lead:at:lead@example.com')).toMatchObject({ email: 'opted_out', sms: 'opted_out' });
    const [req] = sim.requests();
    expect(req?.status).toBe(202);
    expect(req?.body).toEqual({
      email: 'lead@example.com',
      businessUnit: 'at',
      events: [
        { event: 'Opt Out', 'channel.type': 'MAIL' },
        { event: 'Opt Out', 'channel.type': 'SMS' },
      ],
    });
  });

  it('opt-in after opt-out re-opts-in a lead with the "Opt In" event (seeds/001 "(Re)Opt In")', async () => {
    const a = adapter();
    const lead = { email: 'back@example.com', businessUnit: 'de' };
    expect(await pushOne(a, contact('c1', lead, { email: decided('opted_out') }))).toEqual({
      kind: 'pushed',
    });
    expect(consent('lead:de:back@example.com')?.email).toBe('opted_out');
    expect(
      await pushOne(a, contact('c1', lead, { email: decided('opted_in', { authoritative: true }) })),
    ).toEqual({ kind: 'pushed' });
    expect(consent('lead:de:back@example.com')?.email).toBe('opted_in');
    expect(sim.requests().map((r) => r.body)).toEqual([
      { ...lead, events: [{ event: 'Opt Out', 'channel.type': 'MAIL' }] },
      { ...lead, events: [{ event: 'Opt In', 'channel.type': 'MAIL' }] },
    ]);
  });

  it('unknown consent, tracking and missing identities send nothing', async () => {
    expect(
      await pushOne(adapter(), contact('c1', { email: 'a@example.com' }, {}, decided('opted_out'))),
    ).toMatchObject({
      kind: 'not_applicable',
    });
    expect(
      await pushOne(adapter(), contact('c2', { phone: '+4915112345678' }, { sms: decided('opted_out') })),
    ).toMatchObject({
      kind: 'missing_identity',
    });
    expect(sim.requests()).toHaveLength(0);
  });
});

describe('status matrix on POST /events', () => {
  statusMatrix({
    sim: () => sim,
    adapter,
    contact: contact('c1', { email: 'lead@example.com' }, { email: decided('opted_out') }),
    route: { method: 'POST', path: '/events' },
    retries429Inline: false,
  });
});

describe('cancellation', () => {
  it('an aborted signal stops the push mid-request with the abort reason', async () => {
    sim.setFaults({ rules: [{ method: 'POST', path: '/events', steps: [{ delayMs: 250 }] }] });
    const controller = new AbortController();
    const started = Date.now();
    const pending = adapter().push(
      [contact('c1', { email: 'a@example.com' }, { email: decided('opted_out') })],
      controller.signal,
    );
    setTimeout(() => controller.abort(new Error('worker shutting down')), 30);
    await expect(pending).rejects.toThrow('worker shutting down');
    expect(Date.now() - started).toBeLessThan(200);
  });
});

describe('full users: one POST /events per contact, all channels in it (§2.2, seeds/001)', () => {
  it('sends "Opt Out" / "Opt In" per channel keyed by externalId in one request', async () => {
    await seed({ users: [{ id: 'u1', email: 'u1@example.com' }] });
    const c = contact(
      'c1',
      { externalId: 'u1', email: 'u1@example.com' },
      { email: decided('opted_out'), sms: decided('opted_in'), push: decided('opted_out') },
    );
    expect(await pushOne(adapter(), c)).toEqual({ kind: 'pushed' });
    expect(consent('u1')).toMatchObject({ email: 'opted_out', sms: 'opted_in', push: 'opted_out' });
    const [req, ...rest] = sim.requests();
    expect(rest).toHaveLength(0);
    expect(req).toMatchObject({ method: 'POST', path: '/events', status: 202 });
    expect(req?.headers['x-xng-apiversion']).toBe('1');
    expect(req?.body).toEqual({
      id: 'u1',
      events: [
        { event: 'Opt Out', 'channel.type': 'MAIL' },
        { event: 'Opt In', 'channel.type': 'SMS' },
        { event: 'Opt Out', 'channel.type': 'PUSH_NOTIFICATION' },
      ],
    });
  });

  it('re-opts-in a full user opted out earlier', async () => {
    await seed({ users: [{ id: 'u1' }] });
    const a = adapter();
    await pushOne(a, contact('c1', { externalId: 'u1' }, { email: decided('opted_out') }));
    expect(consent('u1')?.email).toBe('opted_out');
    await pushOne(
      a,
      contact('c1', { externalId: 'u1' }, { email: decided('opted_in', { authoritative: true }) }),
    );
    expect(consent('u1')?.email).toBe('opted_in');
  });
});

describe('batches', () => {
  const people = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      i % 2 === 0
        ? contact(
            `c${i}`,
            { externalId: `u${i}` },
            { email: decided('opted_out'), sms: decided('opted_out') },
          )
        : contact(
            `c${i}`,
            { email: `l${i}@example.com` },
            { email: decided('opted_out'), push: decided('opted_in') },
          ),
    );

  it.each([1, 7, 50])(
    '%i contacts with 2 channels each → one request per contact, whatever the channels',
    async (n) => {
      const out = await adapter().push(people(n));
      expect([...out.values()].every((o) => o.kind === 'pushed')).toBe(true);
      expect(out.size).toBe(n);
      const reqs = sim.requests();
      expect(reqs).toHaveLength(n);
      expect(reqs.every((r) => r.method === 'POST' && r.path === '/events' && r.status === 202)).toBe(true);
      expect(consent('u0')?.email).toBe('opted_out');
      if (n > 1)
        expect(consent('lead::l1@example.com')).toMatchObject({ email: 'opted_out', push: 'opted_in' });
    },
  );

  it('a mixed batch: the one contact CrossEngage rejects (400) is its own dead letter', async () => {
    // `push` → an undocumented channel.type, which the simulator rejects with 400 UNKNOWN_VALUE.
    const a = adapter({ CROSSENGAGE_CHANNEL_TYPES: 'email:MAIL,sms:SMS,push:BOGUS' });
    const good = people(4).map((c) => ({
      ...c,
      marketing: { ...c.marketing, push: { state: 'unknown' as const, authoritative: false } },
    }));
    const bad = contact(
      'bad',
      { externalId: 'ubad' },
      { email: decided('opted_out'), push: decided('opted_out') },
    );
    const out = await a.push([...good.slice(0, 2), bad, ...good.slice(2)]);
    expect(out.get('bad')).toEqual({ kind: 'dead_letter', reason: expect.stringContaining('HTTP 400') });
    for (const c of good) expect(out.get(c.contactId)).toEqual({ kind: 'pushed' });
    expect(sim.requests()).toHaveLength(5);
  });

  it('missing identities and unknown states cost no request inside a batch', async () => {
    const out = await adapter().push([
      contact('n1', { phone: '+4915112345678' }, { sms: decided('opted_out') }),
      contact('n2', { externalId: 'u2' }, {}),
      contact('n3', { externalId: 'u3' }, { email: decided('opted_out') }),
    ]);
    expect(out.get('n1')).toMatchObject({ kind: 'missing_identity' });
    expect(out.get('n2')).toMatchObject({ kind: 'not_applicable' });
    expect(out.get('n3')).toEqual({ kind: 'pushed' });
    expect(sim.requests()).toHaveLength(1);
  });
});
