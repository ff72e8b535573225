import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsentClient } from '../../src/client/index.js';
import type { WireConsentEventInput } from '../../src/contracts/consent-event.js';
import { applyEvent, type ConsentEvent, type Listing, resolve } from '../../src/domain/index.js';
import { startTestApp } from '../support/app.js';
import { waitFor } from '../support/wait-for.js';

const CONTACTS = 200;
const EVENTS = 2_000;
const SOURCES = ['api', 'form', 'import', 'list_unsubscribe', 'unsubscribe_link', 'preference_center', 'esp:ometria'];

function contactOf(i: number): WireConsentEventInput['contact'] {
  return i % 2 === 0 ? { externalId: `user-${i}` } : { email: `Lead.${i}@Example.org`, businessUnit: i % 3 === 0 ? 'shop-de' : 'shop-fr' };
}

/** A reproducible random event stream (fast-check's generator with a fixed seed). */
function generateEvents(): { contact: number; event: WireConsentEventInput }[] {
  const arb = fc.record({
    contact: fc.integer({ min: 0, max: CONTACTS - 1 }),
    kind: fc.constantFrom('marketing', 'marketing', 'marketing', 'tracking'),
    channel: fc.constantFrom('email', 'sms', 'push', 'all', undefined),
    value: fc.constantFrom('opt_in', 'opt_out'),
    source: fc.constantFrom(...SOURCES),
    force: fc.boolean(),
    minute: fc.integer({ min: 0, max: 500 }),
  });
  const samples = fc.sample(arb, { numRuns: EVENTS, seed: 20261123 });
  return samples.map((s, n) => ({
    contact: s.contact,
    event: {
      eventId: `conv-${String(n).padStart(5, '0')}`,
      contact: contactOf(s.contact),
      kind: s.kind as 'marketing' | 'tracking',
      ...(s.kind === 'marketing' && s.channel !== undefined ? { channel: s.channel } : {}),
      value: s.value as 'opt_in' | 'opt_out',
      source: s.source,
      force: s.force,
      // Few distinct minutes, so equal moments (tie-breaks) are common.
      moment: new Date(Date.UTC(2026, 10, 1) + s.minute * 60_000).toISOString(),
    },
  }));
}

function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('convergence: shuffled, duplicated events through the API and the client, several workers', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    app = await startTestApp({ workers: 3, env: { APPLY_CONCURRENCY: '8' } });
  });
  afterAll(async () => app?.close());

  it('ends in the pure resolution of the same events, with one audit record per eventId', { timeout: 300_000 }, async () => {
    const generated = generateEvents();
    const duplicates = shuffle(generated, 7).slice(0, EVENTS / 10);
    const deliveries = shuffle([...generated, ...duplicates], 42);
    const client = new ConsentClient({ baseUrl: app.url, maxBatch: 50 });

    // Half the deliveries go as raw HTTP batches, half through the typed client, four requests
    // in flight at a time as app servers would send them.
    const requests: (() => Promise<unknown>)[] = [];
    deliveries.forEach((_, i) => {
      if (i % 50 !== 0) return;
      const chunk = deliveries.slice(i, i + 50).map((d) => d.event);
      // a request must not repeat an eventId, so a re-delivery inside a chunk goes in a second request
      const seen = new Set<string>();
      const first = chunk.filter((e) => !seen.has(e.eventId) && seen.add(e.eventId));
      const rest = chunk.filter((e) => !first.includes(e));
      for (const part of [first, rest].filter((p) => p.length > 0)) {
        requests.push(
          (i / 50) % 2 === 0
            ? () => app.post('/v1/consent-events', { events: part }).then((r) => expect(r.status).toBe(202))
            : () => client.recordMany(part),
        );
      }
    });
    const t0 = Date.now();
    const inFlight = 4;
    await Promise.all(
      Array.from({ length: inFlight }, async (_, lane) => {
        for (let r = lane; r < requests.length; r += inFlight) await requests[r]!();
      }),
    );

    console.log('sent in', Date.now() - t0, 'ms; pending', await app.ctx.models.events.countDocuments({ status: 'pending' }));
    await waitFor(async () => (await app.ctx.models.events.countDocuments({ status: 'pending' })) === 0, {
      timeoutMs: 240_000,
      intervalMs: 1_000,
      what: 'every stored event to be applied',
    });

    console.log('applied in', Date.now() - t0, 'ms');
    expect(await app.ctx.models.events.countDocuments({})).toBe(EVENTS);
    const audits = await app.ctx.models.audit.find({}, { _id: 1 }).lean();
    expect(audits).toHaveLength(EVENTS);
    expect(new Set(audits.map((a) => a._id)).size).toBe(EVENTS);

    // The pure model: fold each contact's distinct events in generation order.
    const listingsByContact = new Map<number, Listing[]>();
    for (const { contact, event } of generated) {
      const domainEvent: ConsentEvent = {
        eventId: event.eventId,
        kind: event.kind,
        ...(event.channel !== undefined ? { channel: event.channel } : {}),
        value: event.value,
        source: event.source,
        force: event.force ?? false,
        moment: event.moment!,
      };
      const result = applyEvent(listingsByContact.get(contact) ?? [], domainEvent, app.ctx.policy);
      listingsByContact.set(contact, result.listings);
    }
    let compared = 0;
    const mismatches: string[] = [];
    // One read of every contact (the per-contact view is checked on a sample below).
    const contacts = await app.ctx.models.contacts.find({}).lean();
    const byIdentity = new Map<string, (typeof contacts)[number]>();
    for (const c of contacts) {
      if (c.identities.externalId) byIdentity.set(`ext:${c.identities.externalId}`, c);
      if (c.identities.email) byIdentity.set(`email:${c.identities.businessUnit}:${c.identities.email}`, c);
    }
    expect(contacts).toHaveLength(listingsByContact.size);
    for (const [i, listings] of listingsByContact) {
      const identity = contactOf(i);
      const key = identity.externalId ? `ext:${identity.externalId}` : `email:${identity.businessUnit}:${identity.email!.toLowerCase()}`;
      const stored = byIdentity.get(key);
      const expected = resolve(listings, app.ctx.policy);
      if (JSON.stringify(stored?.effective) !== JSON.stringify(expected)) {
        mismatches.push(`contact ${i}:\n got      ${JSON.stringify(stored?.effective)}\n expected ${JSON.stringify(expected)}`);
      }
      compared++;
    }
    for (const i of [0, 1, 2, 3, 10, 11]) {
      const identity = contactOf(i);
      const param = identity.externalId ? `externalId:${identity.externalId}` : `email:${identity.email}?businessUnit=${identity.businessUnit}`;
      const view = await app.get(`/v1/contacts/${param}`);
      expect(view.status).toBe(200);
      expect(view.body['decisions']).toEqual(resolve(listingsByContact.get(i) ?? [], app.ctx.policy));
    }
    expect(mismatches.slice(0, 3).join('\n')).toBe('');
    expect(compared).toBeGreaterThan(CONTACTS * 0.9);
  });
});
