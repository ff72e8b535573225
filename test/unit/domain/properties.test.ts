import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyEvent,
  compareListings,
  type ConsentEvent,
  type ConsentPolicy,
  createPolicy,
  defaultPolicy,
  type EffectiveValue,
  expandChannels,
  type Listing,
  resolve,
  TRACKING_CHANNEL,
} from '../../../src/domain/index.js';
import {
  eventArb,
  eventSetArb,
  type GenEvent,
  minuteArb,
  permutationOf,
  RECIPIENT_SOURCES,
} from './arbitraries.js';
import { applyAll } from './fixtures.js';

const RUNS = { numRuns: 1000 };
const events = (gs: readonly GenEvent[]): ConsentEvent[] => gs.map((g) => g.event);

/**
 * Independent oracle for the listings: per (kind, channel, source) the latest event by
 * (minute, opt_out over opt_in, eventId). Written without compareListings so it can disagree.
 */
function expectedListings(gs: readonly GenEvent[], policy: ConsentPolicy): Listing[] {
  const best = new Map<string, { listing: Listing; minute: number }>();
  const newer = (a: { listing: Listing; minute: number }, b: { listing: Listing; minute: number }) =>
    a.minute !== b.minute
      ? a.minute > b.minute
      : a.listing.value !== b.listing.value
        ? a.listing.value === 'opt_out'
        : a.listing.eventId > b.listing.eventId;
  for (const { event, minute } of gs) {
    const channels = expandChannels(event, policy);
    if (event.kind === 'marketing' && channels.some((c) => !policy.channels.includes(c))) continue;
    for (const channel of channels) {
      const { eventId, kind, value, source, force, moment } = event;
      const candidate = { listing: { kind, channel, source, value, force, moment, eventId }, minute };
      const key = `${kind}|${channel}|${source}`;
      const held = best.get(key);
      if (held === undefined || newer(candidate, held)) best.set(key, candidate);
    }
  }
  const key = (l: Listing) => [l.kind, l.channel, l.source];
  return [...best.values()]
    .map((b) => b.listing)
    .sort((a, b) => {
      const [ka, kb] = [key(a), key(b)];
      for (let i = 0; i < ka.length; i++)
        if (ka[i] !== kb[i]) return (ka[i] as string) < (kb[i] as string) ? -1 : 1;
      return 0;
    });
}

describe('order and duplicate invariance', () => {
  it('any permutation of an event set gives the same listings and state, equal to the oracle', () => {
    fc.assert(
      fc.property(
        eventSetArb().chain((set) => fc.tuple(fc.constant(set), permutationOf(set))),
        ([original, shuffled]) => {
          const a = applyAll(events(original));
          const b = applyAll(events(shuffled));
          expect(b.listings).toEqual(a.listings);
          expect(a.listings).toEqual(expectedListings(original, defaultPolicy));
          expect(resolve(b.listings, defaultPolicy)).toEqual(resolve(a.listings, defaultPolicy));
          if (a.last && b.last) expect(b.last.next).toEqual(a.last.next);
        },
      ),
      RUNS,
    );
  });

  it('re-delivered events change nothing, wherever they are re-delivered', () => {
    fc.assert(
      fc.property(
        eventSetArb({}, 10).chain((set) =>
          fc.tuple(
            fc.constant(set),
            fc.array(fc.tuple(fc.nat({ max: Math.max(0, set.length - 1) }), fc.nat({ max: set.length })), {
              maxLength: 12,
            }),
          ),
        ),
        ([set, redeliveries]) => {
          const sequence = events(set);
          for (const [which, position] of redeliveries) {
            const event = set[which]?.event;
            if (event !== undefined) sequence.splice(position, 0, event);
          }
          const withDuplicates = applyAll(sequence);
          const seen = new Set<string>();
          let listingsBefore: Listing[] = [];
          sequence.forEach((event, i) => {
            const result = withDuplicates.results[i];
            if (result === undefined) throw new Error('missing result');
            if (seen.has(event.eventId)) {
              expect(result.stateChanged).toBe(false);
              expect(result.listings).toEqual(listingsBefore);
              expect(['duplicate', 'stale', 'no_channel', 'rejected']).toContain(result.outcome);
            }
            seen.add(event.eventId);
            listingsBefore = result.listings;
          });
          // Duplicates only ever repeat events, so the result is that of the first occurrences.
          const firstOccurrences = sequence.filter(
            (e, i) => sequence.findIndex((f) => f.eventId === e.eventId) === i,
          );
          expect(withDuplicates.listings).toEqual(applyAll(firstOccurrences).listings);
        },
      ),
      RUNS,
    );
  });

  it('applying an event twice equals applying it once', () => {
    fc.assert(
      fc.property(
        eventSetArb({ channels: ['email', 'sms', 'all', 'fax', undefined] }),
        fc.option(eventArb({ channels: ['email', 'sms', 'push', 'all', 'fax', undefined] }), {
          nil: undefined,
        }),
        fc.nat(),
        (set, fresh, pick) => {
          const start = applyAll(events(set)).listings;
          // Either an event the contact has seen already or a new one.
          const event = fresh?.event ?? set[pick % Math.max(1, set.length)]?.event;
          if (event === undefined) return;
          const once = applyEvent(start, event, defaultPolicy);
          const twice = applyEvent(once.listings, event, defaultPolicy);
          expect(twice.listings).toEqual(once.listings);
          expect(twice.next).toEqual(once.next);
          expect(twice.stateChanged).toBe(false);
          const expectedSecond = ['applied', 'no_change', 'optin_blocked'].includes(once.outcome)
            ? 'duplicate'
            : once.outcome;
          expect(twice.outcome).toBe(expectedSecond);
        },
      ),
      RUNS,
    );
  });
});

describe('the safety rule', () => {
  it('a recipient opt-out newer than every opt-in (forced or not) always yields opted_out', () => {
    fc.assert(
      fc.property(
        eventSetArb(),
        fc.record({
          source: fc.constantFrom(...RECIPIENT_SOURCES),
          kind: fc.constantFrom('marketing' as const, 'tracking' as const),
          channel: fc.constantFrom('email', 'sms', 'push', 'all'),
          force: fc.boolean(),
          after: fc.integer({ min: 0, max: 3 }),
        }),
        fc.nat(),
        (set, o, position) => {
          const latestMinute = Math.max(0, ...set.map((g) => g.minute));
          // `after` 0 puts the objection on the same moment as the newest opt-in: ties go to opt_out.
          const minute = latestMinute + o.after;
          const objection: ConsentEvent = {
            eventId: 'objection',
            kind: o.kind,
            channel: o.channel,
            value: 'opt_out',
            source: o.source,
            force: o.force,
            moment: new Date(Date.UTC(2026, 2, 1, 10, minute)).toISOString(),
          };
          const sequence = events(set);
          sequence.splice(position % (sequence.length + 1), 0, objection);
          const { listings } = applyAll(sequence);
          const state = resolve(listings, defaultPolicy);
          const targets = expandChannels(objection, defaultPolicy);
          for (const channel of targets) {
            const decision = channel === TRACKING_CHANNEL ? state.tracking : state.marketing[channel];
            expect(decision?.state, channel).toBe('opted_out');
          }
        },
      ),
      RUNS,
    );
  });
});

/** The rules of product.md §1, restated independently over (minute, value, eventId). */
function oracleState(
  listings: readonly Listing[],
  minuteOf: Map<string, number>,
  policy: ConsentPolicy,
): EffectiveValue {
  const m = (l: Listing) => minuteOf.get(l.eventId) ?? -1;
  const newer = (a: Listing, b: Listing) =>
    m(a) !== m(b) ? m(a) > m(b) : a.value !== b.value ? a.value === 'opt_out' : a.eventId > b.eventId;
  const forced = listings.filter(
    (l) => l.force && (policy.forceSources === 'any' || policy.forceSources.includes(l.source)),
  );
  if (forced.length > 0) {
    const winner = forced.reduce((w, l) => (newer(l, w) ? l : w));
    if (winner.value === 'opt_out') return 'opted_out';
    const objected = listings.some(
      (l) => l.value === 'opt_out' && RECIPIENT_SOURCES.has(l.source) && newer(l, winner),
    );
    return objected ? 'opted_out' : 'opted_in';
  }
  if (listings.some((l) => l.value === 'opt_out')) return 'opted_out';
  if (listings.some((l) => l.value === 'opt_in')) return 'opted_in';
  return 'unknown';
}

describe('resolution rules', () => {
  it('agrees with an independent statement of rules 1–3, under several force policies', () => {
    const policies = [
      defaultPolicy,
      createPolicy({ forceSources: ['double_opt_in', 'api'] }),
      createPolicy({ forceSources: [] }),
    ];
    fc.assert(
      fc.property(
        eventSetArb({ channels: ['email', 'sms', 'all'] }, 10),
        fc.constantFrom(...policies),
        (set, policy) => {
          const { listings } = applyAll(events(set), policy);
          const minuteOf = new Map(set.map((g) => [g.event.eventId, g.minute]));
          const state = resolve(listings, policy);
          for (const channel of policy.channels) {
            const own = listings.filter((l) => l.kind === 'marketing' && l.channel === channel);
            expect(state.marketing[channel]?.state, channel).toBe(oracleState(own, minuteOf, policy));
          }
          const tracking = listings.filter((l) => l.kind === 'tracking');
          expect(state.tracking.state).toBe(oracleState(tracking, minuteOf, policy));
        },
      ),
      RUNS,
    );
  });

  it('a non-forced opt-in no later than an opt-out never makes the channel opted_in on its own', () => {
    fc.assert(
      fc.property(
        minuteArb,
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom('api', 'form', 'import', 'preference_center'),
        (outAt, back, source) => {
          const { last } = applyAll([
            {
              eventId: 'out',
              kind: 'marketing',
              channel: 'email',
              value: 'opt_out',
              source: 'import',
              force: false,
              moment: new Date(Date.UTC(2026, 0, 1, 0, outAt)).toISOString(),
            },
            {
              eventId: 'in',
              kind: 'marketing',
              channel: 'email',
              value: 'opt_in',
              source,
              force: false,
              moment: new Date(Date.UTC(2026, 0, 1, 0, outAt - back)).toISOString(),
            },
          ]);
          expect(last?.next.marketing.email?.state).toBe('opted_out');
          expect(last?.outcome).toBe(source === 'import' ? 'stale' : 'optin_blocked');
        },
      ),
      RUNS,
    );
  });

  it('compareListings is a total order: antisymmetric, and sorting is independent of input order', () => {
    fc.assert(
      fc.property(
        eventSetArb({ channels: ['email'] }).chain((set) => fc.tuple(fc.constant(set), permutationOf(set))),
        ([set, shuffled]) => {
          const toListing = (g: GenEvent): Listing => ({ ...g.event, channel: 'email' });
          const a = set.map(toListing);
          const b = shuffled.map(toListing);
          for (const x of a)
            for (const y of b)
              expect(Math.sign(compareListings(x, y))).toBe(0 - Math.sign(compareListings(y, x)) || 0);
          expect([...b].sort(compareListings)).toEqual([...a].sort(compareListings));
        },
      ),
      RUNS,
    );
  });
});

describe('robustness', () => {
  const garbage = fc.oneof(
    fc.string(),
    fc.constantFrom('__proto__', 'constructor', 'toString', '', 'all', TRACKING_CHANNEL),
  );
  const anyListing = fc.record({
    kind: fc.oneof(fc.constantFrom('marketing', 'tracking'), garbage),
    channel: fc.oneof(fc.constantFrom('email', 'sms', TRACKING_CHANNEL), garbage),
    source: fc.oneof(fc.constantFrom('list_unsubscribe', 'api', 'esp:x'), garbage),
    value: fc.oneof(fc.constantFrom('opt_in', 'opt_out'), garbage),
    force: fc.boolean(),
    moment: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      garbage,
    ),
    eventId: garbage,
  }) as fc.Arbitrary<Listing>;
  const anyPolicy = fc
    .record({
      channels: fc.array(fc.oneof(fc.constantFrom('email', 'sms', 'push'), garbage), { maxLength: 6 }),
      recipientSources: fc.array(garbage, { maxLength: 3 }),
      forceSources: fc.oneof(fc.constant('any' as const), fc.array(garbage, { maxLength: 3 })),
    })
    .map((p) => createPolicy(p));

  it('resolve never throws and returns a decision for every configured channel and tracking', () => {
    const states = new Set(['opted_in', 'opted_out', 'unknown']);
    fc.assert(
      fc.property(fc.array(anyListing, { maxLength: 20 }), anyPolicy, (listings, policy) => {
        const state = resolve(listings, policy);
        for (const channel of policy.channels) {
          expect(Object.hasOwn(state.marketing, channel), channel).toBe(true);
          expect(states.has(state.marketing[channel]?.state ?? 'missing'), channel).toBe(true);
        }
        expect(states.has(state.tracking.state)).toBe(true);
        expect(resolve([...listings].reverse(), policy)).toEqual(state);
      }),
      RUNS,
    );
  });

  it('applyEvent never throws on odd but well-typed input', () => {
    fc.assert(
      fc.property(
        fc.array(anyListing, { maxLength: 10 }),
        anyListing,
        fc.option(garbage, { nil: undefined }),
        anyPolicy,
        (listings, l, channel, policy) => {
          const event: ConsentEvent = {
            eventId: l.eventId,
            kind: l.kind,
            value: l.value,
            source: l.source,
            force: l.force,
            moment: l.moment,
          };
          if (channel !== undefined) event.channel = channel;
          const result = applyEvent(listings, event, policy);
          expect(result.outcome).toBeTypeOf('string');
        },
      ),
      RUNS,
    );
  });
});
