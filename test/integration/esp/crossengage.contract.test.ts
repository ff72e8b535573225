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
const seed = (body: unknown) =>
  fetch(`${sim.url}/__sim/seed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const consent = (key: string) => sim.state().recipients[key];

describe('full users: PUT /users/{externalId}/optout-status (§2.1)', () => {
  it('sets each channel with both CrossEngage headers', async () => {
    await seed({ users: [{ id: 'u1', email: 'u1@example.com' }] });
    const c = contact(
      'c1',
      { externalId: 'u1', email: 'u1@example.com' },
      { email: decided('opted_out'), push: decided('opted_out') },
    );
    expect(await pushOne(adapter(), c)).toEqual({ kind: 'pushed' });
    expect(consent('u1')).toMatchObject({ email: 'opted_out', push: 'opted_out' });
    const puts = sim.requests().filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.query['channelType'])).toEqual(['MAIL', 'PUSH_NOTIFICATION']);
    expect(puts[0]?.headers['x-xng-apiversion']).toBe('1');
    expect(puts[0]?.headers['x-xng-authtoken']).toBe('***');
    expect(puts[0]?.body).toEqual({ optOut: true });
  });

  it('re-opts-in a full user with optOut false', async () => {
    await seed({ users: [{ id: 'u1' }] });
    const a = adapter();
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
    expect(await pushOne(adapter(), c)).toEqual({ kind: 'pushed' });
    expect(consent('lead:de:ghost@example.com')?.email).toBe('opted_out');
    expect(sim.requests().map((r) => `${r.method} ${r.status}`)).toEqual(['PUT 404', 'POST 202']);
  });

  it('404 unknown user without fallback, or for an opt-in → missing_identity', async () => {
    const optOut = contact(
      'c1',
      { externalId: 'ghost', email: 'g@example.com' },
      { email: decided('opted_out') },
    );
    expect(await pushOne(adapter({ CROSSENGAGE_LEAD_FALLBACK_ON_404: 'false' }), optOut)).toEqual({
      kind: 'missing_identity',
      detail: expect.stringMatching(/404/),
    });
    const optIn = contact('c2', { externalId: 'ghost' }, { email: decided('opted_in') });
    expect(await pushOne(adapter(), optIn)).toMatchObject({ kind: 'missing_identity' });
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

  it('a lead re-opt-in is reactivation_blocked and sends nothing', async () => {
    const c = contact(
      'c1',
      { email: 'lead@example.com' },
      { email: decided('opted_in', { authoritative: true }) },
    );
    expect(await pushOne(adapter(), c)).toEqual({
      kind: 'reactivation_blocked',
      reason: expect.stringMatching(/Opt In/),
    });
    expect(sim.requests()).toHaveLength(0);
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

describe('configured "Opt In" event (NOT FOUND §2.2; simulator option optInEventName)', () => {
  it('re-opts-in a lead when both sides know the event', async () => {
    const withOptIn = await startSimulator('crossengage', { optInEventName: 'Opt In' });
    try {
      const a = adapterFor('crossengage', withOptIn.url, { CROSSENGAGE_OPT_IN_EVENT: 'Opt In' });
      const lead = { email: 'back@example.com' };
      await pushOne(a, contact('c1', lead, { email: decided('opted_out') }));
      expect(
        await pushOne(a, contact('c1', lead, { email: decided('opted_in', { authoritative: true }) })),
      ).toEqual({
        kind: 'pushed',
      });
      expect(withOptIn.state().recipients['lead::back@example.com']?.email).toBe('opted_in');
    } finally {
      await withOptIn.close();
    }
  });
});
