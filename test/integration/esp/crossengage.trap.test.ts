import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCrossEngageReadBack } from '../../../src/esp/crossengage/crossengage.readback.js';
import { type SimulatorHandle, simulatorCredentials, startSimulator } from '../../../src/simulators/index.js';
import { adapterFor, contact, decided, pushOne, settingsFor, silentLogger } from './support.js';

/**
 * The "opted out forever" trap (seeds/001, issue 20 item 3), walked over HTTP against the
 * CrossEngage simulator: a person CrossEngage does not know by externalId opts out, then back in.
 * Wherever the opt-out went, the opt-in must go to the same CrossEngage identity and clear it.
 */
let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator('crossengage');
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const identities = { externalId: 'trap-1', email: 'Trap@Example.com', businessUnit: 'de' };
const LEAD = 'lead:de:trap@example.com';
const optOut = contact('c-trap', identities, { email: decided('opted_out'), sms: decided('opted_out') });
const optIn = contact('c-trap', identities, {
  email: decided('opted_in', { authoritative: true }),
  sms: decided('opted_in', { authoritative: true }),
});

/** Which CrossEngage profile each consent request of the log addressed. */
function addressed(): string[] {
  return sim
    .requests()
    .filter((r) => r.method === 'POST' || r.method === 'PUT')
    .map((r) => `${r.method} ${r.path}${r.method === 'POST' ? ` ${JSON.stringify({ id: (r.body as Record<string, unknown>)['id'], email: (r.body as Record<string, unknown>)['email'] })}` : ''}`);
}

describe('CrossEngage trap: opt-out while CrossEngage has no such user, then opt-in', () => {
  it('optout-status mode: the 404 sends both the opt-out and the opt-in to the same lead, which ends opted in', async () => {
    const adapter = adapterFor('crossengage', sim.url, { CROSSENGAGE_USER_WRITE: 'optout-status' }, { channels: true });
    const out = await pushOne(adapter, optOut);
    expect(out).toMatchObject({ kind: 'pushed', channels: { email: { kind: 'pushed' }, sms: { kind: 'pushed' } } });
    expect(sim.state().recipients[LEAD]).toMatchObject({ email: 'opted_out', sms: 'opted_out' });
    expect(sim.state().recipients['trap-1']).toBeUndefined();
    const afterOptOut = addressed();

    const back = await pushOne(adapter, optIn);
    expect(back).toMatchObject({ kind: 'pushed', channels: { email: { kind: 'pushed' }, sms: { kind: 'pushed' } } });
    // The same lead, now opted in on both channels; still no user.
    expect(sim.state().recipients[LEAD]).toMatchObject({ email: 'opted_in', sms: 'opted_in' });
    expect(sim.state().recipients['trap-1']).toBeUndefined();
    const optInRequests = addressed().slice(afterOptOut.length);
    const leadEvents = (log: string[]) => log.filter((l) => l.startsWith('POST /events')).map((l) => l.slice('POST /events '.length));
    expect(new Set(leadEvents(optInRequests))).toEqual(new Set(leadEvents(afterOptOut)));
    expect(leadEvents(optInRequests)).toEqual([JSON.stringify({ email: 'Trap@Example.com' })]);
    const events = (sim.state() as unknown as { events: { event: string; recipient: string | null; effect: string }[] }).events;
    expect(events.map((e) => [e.event, e.recipient, e.effect])).toEqual([
      ['Opt Out', LEAD, 'opt-out'],
      ['Opt Out', LEAD, 'opt-out'],
      ['Opt In', LEAD, 'opt-in'],
      ['Opt In', LEAD, 'opt-in'],
    ]);

    // What reconciliation reads: recipient-status by externalId, which cannot see the lead.
    const readBack = createCrossEngageReadBack(settingsFor('crossengage', sim.url), silentLogger);
    if (readBack.kind !== 'per_contact') throw new Error('CrossEngage read-back is per contact');
    expect(await readBack.readContact(identities)).toBe('unknown_contact');
    // …unless our pushes found the state on the lead (the contact's espIdentities): there, not readable
    expect(await readBack.readContact(identities, undefined, back?.holder)).toBe('not_readable');
  });

  it('events mode (default): opt-out and opt-in both go by externalId to the same profile', async () => {
    const adapter = adapterFor('crossengage', sim.url, {}, { channels: true });
    await pushOne(adapter, optOut);
    expect(sim.state().recipients['trap-1']).toMatchObject({ email: 'opted_out', sms: 'opted_out' });
    await pushOne(adapter, optIn);
    expect(sim.state().recipients['trap-1']).toMatchObject({ email: 'opted_in', sms: 'opted_in' });
    expect(sim.state().recipients[LEAD]).toBeUndefined();
    const posts = addressed().filter((l) => l.startsWith('POST /events'));
    expect(new Set(posts)).toEqual(new Set([`POST /events ${JSON.stringify({ id: 'trap-1' })}`]));
  });
});

describe('CrossEngage identity remembered: a user created later, apart from the lead', () => {
  const remembered = (snapshot: typeof optIn) => ({ ...snapshot, espIdentities: { crossengage: 'lead' } });
  const createUser = (body: Record<string, unknown>) =>
    fetch(`${sim.url}/users/trap-1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'X-XNG-AuthToken': simulatorCredentials.crossengage.authToken, 'X-XNG-ApiVersion': '1' },
      body: JSON.stringify(body),
    });

  for (const mode of ['optout-status', 'events'] as const) {
    it(`${mode}: the opt-in reaches the lead the opt-out went to and the user created since`, async () => {
      const adapter = adapterFor('crossengage', sim.url, { CROSSENGAGE_USER_WRITE: mode }, { channels: true });
      // The opt-out went to the lead (optout-status: the PUT's 404; events: a contact known by email only).
      const first = mode === 'optout-status' ? optOut : contact('c-trap', { email: identities.email, businessUnit: 'de' }, optOut.marketing);
      const out = await pushOne(adapter, first);
      expect(out?.holder).toBe('lead');
      expect(sim.state().recipients[LEAD]).toMatchObject({ email: 'opted_out', sms: 'opted_out' });
      // CrossEngage gets the user, under another business unit: no merge, two recipients.
      expect((await createUser({ email: 'trap@example.com', businessUnit: 'at' })).status).toBe(200);
      expect(sim.state().recipients['trap-1']).toMatchObject({ email: 'opted_in' });

      const back = await pushOne(adapter, remembered(optIn));
      expect(back).toMatchObject({ kind: 'pushed', holder: 'lead', channels: { email: { kind: 'pushed' }, sms: { kind: 'pushed' } } });
      expect(sim.state().recipients[LEAD]).toMatchObject({ email: 'opted_in', sms: 'opted_in' });
      expect(sim.state().recipients['trap-1']).toMatchObject({ email: 'opted_in', sms: 'opted_in' });
      // …and a later opt-out reaches both again
      await pushOne(adapter, remembered(optOut));
      expect(sim.state().recipients[LEAD]).toMatchObject({ email: 'opted_out', sms: 'opted_out' });
      expect(sim.state().recipients['trap-1']).toMatchObject({ email: 'opted_out', sms: 'opted_out' });
    });
  }

  it('without the memory the opt-in reaches the new user only, and the lead stays opted out (the trap)', async () => {
    const adapter = adapterFor('crossengage', sim.url, { CROSSENGAGE_USER_WRITE: 'optout-status' }, { channels: true });
    await pushOne(adapter, optOut);
    expect((await createUser({ email: 'trap@example.com', businessUnit: 'at' })).status).toBe(200);
    await pushOne(adapter, optIn);
    expect(sim.state().recipients['trap-1']).toMatchObject({ email: 'opted_in' });
    expect(sim.state().recipients[LEAD]).toMatchObject({ email: 'opted_out', sms: 'opted_out' });
  });

  it('a user created with the lead\'s email and business unit absorbs it; the remembered lead write lands on that user', async () => {
    const adapter = adapterFor('crossengage', sim.url, { CROSSENGAGE_USER_WRITE: 'optout-status' }, { channels: true });
    await pushOne(adapter, optOut);
    expect((await createUser({ email: 'trap@example.com', businessUnit: 'de' })).status).toBe(200);
    expect(sim.state().recipients[LEAD]).toBeUndefined();
    expect(sim.state().recipients['trap-1']).toMatchObject({ email: 'opted_out', sms: 'opted_out' });
    await pushOne(adapter, remembered(optIn));
    expect(sim.state().recipients['trap-1']).toMatchObject({ email: 'opted_in', sms: 'opted_in' });
    expect(sim.state().recipients[LEAD]).toBeUndefined();
  });
});
