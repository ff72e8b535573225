import type { ConsentEventInput } from '../../src/client/index.js';

/** The benchmark's synthetic people and consent traffic: deterministic for a given seed. */

export function contactExternalId(i: number): string {
  return `bench-${String(i).padStart(7, '0')}`;
}

export function contactEmail(i: number): string {
  return `c${String(i).padStart(7, '0')}@bench.example`;
}

/** Half the people also have a phone (so SMS reaches the ESPs that key on it). */
export function contactPhone(i: number): string | undefined {
  return i % 2 === 0 ? `+49151${String(i).padStart(8, '0')}` : undefined;
}

export function contactIdentity(i: number): { externalId: string; email: string; phone?: string } {
  const phone = contactPhone(i);
  return { externalId: contactExternalId(i), email: contactEmail(i), ...(phone ? { phone } : {}) };
}

/** mulberry32: a small seeded PRNG, so every run sends the same traffic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHANNELS = ['email', 'sms', 'push', 'all'] as const;
const OPT_OUT_SOURCES = ['preference_center', 'unsubscribe_link', 'list_unsubscribe', 'app_settings'] as const;

/**
 * `count` events spread uniformly over `contacts` people. Per person the events alternate an
 * opt-out (mixed sources and channels) and a forced re-opt-in (a double-opt-in confirmation),
 * with 10% tracking changes, so nearly every event changes effective state and travels to every
 * ESP. Moments increase with the event index, a millisecond apart, ending `endMs`.
 */
export function makeEvents(opts: {
  count: number;
  contacts: number;
  tag: string;
  seed: number;
  endMs: number;
  /** Event ids start at `${tag}-${firstIndex}` (default 0): two sets of one tag never share an id. */
  firstIndex?: number;
  /** People are `firstPerson` to `firstPerson + contacts - 1` (default 0): a warm-up on other people. */
  firstPerson?: number;
}): ConsentEventInput[] {
  const rand = prng(opts.seed);
  const seqOf = new Map<number, number>();
  const events: ConsentEventInput[] = [];
  const start = opts.endMs - opts.count;
  for (let i = 0; i < opts.count; i++) {
    const person = (opts.firstPerson ?? 0) + Math.floor(rand() * opts.contacts);
    const k = seqOf.get(person) ?? 0;
    seqOf.set(person, k + 1);
    const optOut = k % 2 === 0;
    const moment = new Date(start + i).toISOString();
    const eventId = `${opts.tag}-${(opts.firstIndex ?? 0) + i}`;
    const contact = contactIdentity(person);
    if (rand() < 0.1) {
      events.push({ eventId, contact, kind: 'tracking', value: optOut ? 'opt_out' : 'opt_in', source: 'app_settings', force: !optOut, moment });
      continue;
    }
    const channel = CHANNELS[Math.floor(rand() * CHANNELS.length)]!;
    if (optOut) {
      const source = OPT_OUT_SOURCES[Math.floor(rand() * OPT_OUT_SOURCES.length)]!;
      events.push({ eventId, contact, kind: 'marketing', channel, value: 'opt_out', source, moment, way: { device: 'web' } });
    } else {
      events.push({
        eventId,
        contact,
        kind: 'marketing',
        channel,
        value: 'opt_in',
        source: 'form',
        force: true,
        moment,
        proof: { doubleOptInId: `doi-${eventId}` },
      });
    }
  }
  return events;
}
