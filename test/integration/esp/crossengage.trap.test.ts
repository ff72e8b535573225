import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCrossEngageReadBack } from '../../../src/esp/crossengage/crossengage.readback.js';
import { type SimulatorHandle, startSimulator } from '../../../src/simulators/index.js';
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
