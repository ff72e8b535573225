import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsentClient } from '../../src/client/index.js';
import type { WireConsentEventInput } from '../../src/contracts/consent-event.js';
import { applyEvent, type ConsentEvent, type Listing, resolve } from '../../src/domain/index.js';
import { CHANNEL_IN_STATE, type EspName, type PushOutcomeKind } from '../../src/esp/types.js';
import type { ContactDoc } from '../../src/persistence/models.js';
import { startTestApp } from '../support/app.js';
import { eventFromSpec, eventSpecArb, SIM_CHANNELS, sendEvents, simHolds, simRecipients, waitForQuiescence } from '../support/chaos.js';
import { startEspSimulators } from '../support/esp-sims.js';
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

/**
 * Issue 20 item 4: every ESP ends where our store is, channel by channel. A seeded storm of
 * conflicting events (all channels and `all`, tracking, recipient and forced sources, duplicates,
 * singles and batches) goes through the HTTP API of an app with workers while every simulator
 * answers scripted faults (503, 500, 429, resets, delays). After quiescence, for every
 * (contact, ESP, channel): the simulator holds the store's state, or the contact's sync entry
 * names a per-channel outcome that is not in state, with a reason the README's ESP matrix lists.
 */
const ESP_SEED = 20_260_520;
const ESP_EVENTS = 320;

/** Full users (with and without a phone) and leads (email only, with and without business unit). */
const ESP_CONTACTS: WireConsentEventInput['contact'][] = [
  { externalId: 'cv-0', email: 'cv0@example.org', phone: '+4915100000000' },
  { externalId: 'cv-1', email: 'cv1@example.org' },
  { email: 'lead2@example.org', businessUnit: 'shop-de' },
  { email: 'lead3@example.org' },
  { externalId: 'cv-4', email: 'cv4@example.org', phone: '+4915100000004' },
  { externalId: 'cv-5', email: 'cv5@example.org' },
];

/** The seeded storm: chaos.ts's event choices (forced and recipient sources among them) over ESP_CONTACTS. */
function generateStorm(): WireConsentEventInput[] {
  return fc
    .sample(eventSpecArb({ contacts: ESP_CONTACTS.length, minutes: 90 }), { numRuns: ESP_EVENTS, seed: ESP_SEED })
    .map((spec, n) => ({ ...eventFromSpec('esp-conv', `esp-conv-${String(n).padStart(4, '0')}`, spec).event, contact: ESP_CONTACTS[spec.contact]! }));
}

/** Singles and batches of up to 20, none repeating an eventId within a request. */
function requests(deliveries: readonly WireConsentEventInput[]): WireConsentEventInput[][] {
  const out: WireConsentEventInput[][] = [];
  let current: WireConsentEventInput[] = [];
  deliveries.forEach((event, i) => {
    if (i % 3 === 0) {
      out.push([event]);
      return;
    }
    if (current.some((e) => e.eventId === event.eventId)) {
      out.push(current);
      current = [];
    }
    current.push(event);
    if (current.length === 20) {
      out.push(current);
      current = [];
    }
  });
  if (current.length > 0) out.push(current);
  return out;
}

const FAULT_STEPS = [
  { status: 503 },
  { status: 500 },
  { status: 429, headers: { 'Retry-After': '1' } },
  { reset: true },
  { delayMs: 250 },
  {},
  {},
] as const;

/** A scripted fault run per simulator: 40 steps drawn from FAULT_STEPS, seeded. */
function faultScript(seed: number) {
  const steps = fc.sample(fc.constantFrom(...FAULT_STEPS), { numRuns: 40, seed }).map((s) => ({ ...s }));
  return { rules: [{ path: '*', steps }] };
}

interface Verdict {
  checked: number;
  inState: number;
  explained: string[];
  problems: string[];
  kinds: Record<string, number>;
}

function verdict(contacts: readonly ContactDoc[], esps: readonly EspName[], remote: Map<EspName, Record<string, Record<string, string>>>, readme: string): Verdict {
  const v: Verdict = { checked: 0, inState: 0, explained: [], problems: [], kinds: {} };
  for (const c of contacts) {
    const who = c.identities.externalId ?? c.identities.email ?? c._id;
    for (const esp of esps) {
      const sync = c.sync[esp];
      if (c.outbox[esp] || sync?.version !== c.version) {
        v.problems.push(`${esp} ${who}: not delivered (outbox ${JSON.stringify(c.outbox[esp] ?? null)}, sync v${sync?.version} of v${c.version})`);
        continue;
      }
      for (const channel of SIM_CHANNELS) {
        v.checked++;
        const ours = channel === 'tracking' ? c.effective.tracking.state : c.effective.marketing[channel]?.state;
        const theirs = simHolds(esp, remote.get(esp) ?? {}, c.identities, channel);
        const outcome = sync.channels?.[channel];
        const where = `${esp} ${who} ${channel}: ours ${ours}, ESP ${theirs ?? '(none)'}, outcome ${JSON.stringify(outcome ?? null)}`;
        if (ours !== 'opted_in' && ours !== 'opted_out') {
          if (outcome) v.problems.push(`${where}: an undecided channel got an outcome`);
          if (theirs === 'opted_out') v.problems.push(`${where}: the ESP holds an opt-out we do not`);
          continue;
        }
        if (!outcome) {
          v.problems.push(`${where}: a decided channel has no outcome`);
          continue;
        }
        v.kinds[`${esp} ${channel} ${outcome.kind}`] = (v.kinds[`${esp} ${channel} ${outcome.kind}`] ?? 0) + 1;
        if (CHANNEL_IN_STATE.has(outcome.kind as PushOutcomeKind)) {
          if (theirs === ours) v.inState++;
          else v.problems.push(`${where}: reported in state, but the ESP disagrees`);
        } else if (!('reason' in outcome) || !readme.includes(outcome.reason)) {
          v.problems.push(`${where}: its reason is not in the README's ESP matrix`);
        } else if (sync.status === 'synced') {
          v.problems.push(`${where}: status synced beside ${outcome.kind}`);
        } else v.explained.push(where);
      }
    }
  }
  return v;
}

describe('ESP convergence: a faulty storm, then every ESP holds the store per channel or says why not', () => {
  let sims: Awaited<ReturnType<typeof startEspSimulators>>;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    sims = await startEspSimulators();
    app = await startTestApp({ workers: 2, env: { ...sims.env, ESP_BACKOFF_MS: '100' } });
  });
  afterAll(async () => {
    await app?.close();
    await sims?.close();
  });

  it('converges channel by channel', { timeout: 180_000 }, async () => {
    const t0 = Date.now();
    const generated = generateStorm();
    const duplicates = shuffle(generated, 11).slice(0, ESP_EVENTS / 8);
    const batches = requests(shuffle([...generated, ...duplicates], 5));
    const scripted: Partial<Record<EspName, number>> = {};
    for (const [i, esp] of app.ctx.esps.entries()) {
      const script = faultScript(ESP_SEED + i);
      scripted[esp] = script.rules[0]!.steps.filter((s) => Object.keys(s).length > 0).length;
      sims.sims[esp]!.setFaults(script);
    }

    const load = await sendEvents(app.url, [], { batches, inFlight: 4 });
    expect(load.acked.size).toBe(ESP_EVENTS);
    await waitForQuiescence(app.ctx, { timeoutMs: 120_000, what: 'every event applied and every push acknowledged' });

    const faultsMet: Record<string, number> = {};
    for (const esp of app.ctx.esps) {
      const left = (await (await fetch(`${sims.urls[esp]}/__sim/faults`)).json()) as { rules?: { steps: object[] }[] };
      const remaining = (left.rules ?? []).flatMap((r) => r.steps).filter((s) => Object.keys(s).length > 0).length;
      faultsMet[esp] = (scripted[esp] ?? 0) - remaining;
    }

    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    let result: Verdict | undefined;
    await waitFor(
      async () => {
        const contacts = await app.ctx.models.contacts.find({}).lean<ContactDoc[]>();
        const remote = new Map<EspName, Record<string, Record<string, string>>>();
        for (const esp of app.ctx.esps) remote.set(esp, await simRecipients(sims, esp));
        result = verdict(contacts, app.ctx.esps, remote, readme);
        return result.problems.length === 0;
      },
      { timeoutMs: 5_000, intervalMs: 250, what: 'every ESP to hold the store per channel' },
    ).catch(() => {});

    const outcomes: Record<string, number> = {};
    for (const [key, n] of Object.entries(result?.kinds ?? {})) {
      const kind = key.split(' ')[2]!;
      outcomes[kind] = (outcomes[kind] ?? 0) + n;
    }
    console.log(
      `[esp-convergence] events=${ESP_EVENTS} deliveries=${batches.flat().length} requests=${load.requests} ` +
        `(singles ${batches.filter((b) => b.length === 1).length}, batches ${batches.filter((b) => b.length > 1).length}) ` +
        `answers=${JSON.stringify(load.answers)} faultsMet=${JSON.stringify(faultsMet)} ` +
        `checked=${result?.checked} inState=${result?.inState} explained=${result?.explained.length} ` +
        `outcomes=${JSON.stringify(outcomes)} durationMs=${Date.now() - t0}`,
    );
    console.log(`[esp-convergence] by ESP, channel and kind: ${JSON.stringify(result?.kinds)}`);
    expect(result?.problems.slice(0, 10).join('\n') ?? 'no verdict').toBe('');
    expect(Object.values(faultsMet).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // The storm decided every channel of some contact somewhere, and pushed most of them.
    expect(result?.inState ?? 0).toBeGreaterThan((result?.checked ?? 0) / 3);
  });
});
