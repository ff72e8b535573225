import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireConsentEventInput } from '../../src/contracts/consent-event.js';
import { CHANNEL_IN_STATE, type EspName, type PushOutcomeKind } from '../../src/esp/types.js';
import type { ContactDoc } from '../../src/persistence/models.js';
import { startTestApp } from '../support/app.js';
import { SOURCES, sendEvents, simRecipients, waitForQuiescence } from '../support/chaos.js';
import { startEspSimulators } from '../support/esp-sims.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Issue 20 item 4: every ESP ends where our store is, channel by channel. A seeded storm of
 * conflicting events (all channels and `all`, tracking, recipient and forced sources, duplicates,
 * singles and batches) goes through the HTTP API of an app with workers while every simulator
 * answers scripted faults (503, 500, 429, resets, delays). After quiescence, for every
 * (contact, ESP, channel): the simulator holds the store's state, or the contact's sync entry
 * names a per-channel outcome that is not in state, with a reason the README's ESP matrix lists.
 */
const SEED = 20_260_520;
const EVENTS = 320;
const CHANNELS = ['email', 'sms', 'push', 'tracking'] as const;
type Channel = (typeof CHANNELS)[number];

/** Full users (with and without a phone) and leads (email only, with and without business unit). */
const CONTACTS: WireConsentEventInput['contact'][] = [
  { externalId: 'cv-0', email: 'cv0@example.org', phone: '+4915100000000' },
  { externalId: 'cv-1', email: 'cv1@example.org' },
  { email: 'lead2@example.org', businessUnit: 'shop-de' },
  { email: 'lead3@example.org' },
  { externalId: 'cv-4', email: 'cv4@example.org', phone: '+4915100000004' },
  { externalId: 'cv-5', email: 'cv5@example.org' },
];

function generate(): WireConsentEventInput[] {
  const arb = fc.record({
    contact: fc.integer({ min: 0, max: CONTACTS.length - 1 }),
    kind: fc.constantFrom('marketing', 'marketing', 'marketing', 'tracking'),
    channel: fc.constantFrom('email', 'sms', 'push', 'all'),
    value: fc.constantFrom('opt_in', 'opt_out'),
    source: fc.constantFrom(...SOURCES, 'esp:ometria'),
    force: fc.constantFrom(false, false, false, true),
    minute: fc.integer({ min: 0, max: 90 }),
  });
  return fc.sample(arb, { numRuns: EVENTS, seed: SEED }).map((s, n) => ({
    eventId: `esp-conv-${String(n).padStart(4, '0')}`,
    contact: CONTACTS[s.contact]!,
    kind: s.kind as 'marketing' | 'tracking',
    ...(s.kind === 'marketing' ? { channel: s.channel } : {}),
    value: s.value as 'opt_in' | 'opt_out',
    source: s.source,
    force: s.force,
    moment: new Date(Date.UTC(2026, 10, 1) + s.minute * 60_000).toISOString(),
  }));
}

/** A reproducible shuffle (the same storm on every run). */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
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

/** The state a simulator holds for one contact's channel, read in its own keys. */
function remoteState(esp: EspName, recipients: Record<string, Record<string, string>>, c: ContactDoc, channel: Channel) {
  const { externalId, email, phone, businessUnit } = c.identities;
  const at = (key: string | undefined) => (key === undefined ? undefined : recipients[key]?.[channel]);
  switch (esp) {
    // Opt-out lists: no entry means the person may be messaged.
    case 'optimizely-campaign':
      return at(email) ?? 'opted_in';
    case 'crossengage':
      return at(externalId ?? (email ? `lead:${businessUnit ?? ''}:${email}` : undefined)) ?? 'opted_in';
    case 'dynamic-yield':
      return at(channel === 'sms' ? phone : email);
    default:
      return at(email);
  }
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
      for (const channel of CHANNELS) {
        v.checked++;
        const ours = channel === 'tracking' ? c.effective.tracking.state : c.effective.marketing[channel]?.state;
        const theirs = remoteState(esp, remote.get(esp) ?? {}, c, channel);
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
    const generated = generate();
    const duplicates = shuffle(generated, 11).slice(0, EVENTS / 8);
    const batches = requests(shuffle([...generated, ...duplicates], 5));
    const scripted: Partial<Record<EspName, number>> = {};
    for (const [i, esp] of app.ctx.esps.entries()) {
      const script = faultScript(SEED + i);
      scripted[esp] = script.rules[0]!.steps.filter((s) => Object.keys(s).length > 0).length;
      sims.sims[esp].setFaults(script);
    }

    const load = await sendEvents(app.url, [], { batches, inFlight: 4 });
    expect(load.acked.size).toBe(EVENTS);
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
      `[esp-convergence] events=${EVENTS} deliveries=${batches.flat().length} requests=${load.requests} ` +
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
