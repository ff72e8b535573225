import { describe, expect, it } from 'vitest';
import {
  compareListings,
  createPolicy,
  defaultPolicy,
  isRecipientSource,
  type Listing,
  resolve,
  TRACKING_CHANNEL,
} from '../../../src/domain/index.js';
import { at } from './fixtures.js';

let seq = 0;
function listing(
  partial: Partial<Listing> & Pick<Listing, 'source' | 'value'> & { minute: number },
): Listing {
  const { minute, ...rest } = partial;
  seq += 1;
  return {
    kind: 'marketing',
    channel: 'email',
    force: false,
    moment: at(minute),
    eventId: `l${String(seq).padStart(4, '0')}`,
    ...rest,
  };
}

describe('compareListings', () => {
  it('orders by moment first, whatever the value or eventId', () => {
    const older = listing({ source: 'api', value: 'opt_out', minute: 1, eventId: 'zzz' });
    const newer = listing({ source: 'api', value: 'opt_in', minute: 2, eventId: 'aaa' });
    expect(compareListings(newer, older)).toBeGreaterThan(0);
    expect(compareListings(older, newer)).toBeLessThan(0);
  });

  it('puts opt_out above opt_in on equal moments, then the larger eventId', () => {
    const optIn = listing({ source: 'api', value: 'opt_in', minute: 1, eventId: 'b' });
    const optOut = listing({ source: 'api', value: 'opt_out', minute: 1, eventId: 'a' });
    const optOutB = listing({ source: 'api', value: 'opt_out', minute: 1, eventId: 'c' });
    expect(compareListings(optOut, optIn)).toBeGreaterThan(0);
    expect(compareListings(optOutB, optOut)).toBeGreaterThan(0);
  });

  it('compares instants, not text: an offset notation of the same instant is a tie on moment', () => {
    const utc = listing({
      source: 'api',
      value: 'opt_in',
      minute: 0,
      moment: '2026-03-01T10:00:00Z',
      eventId: 'b',
    });
    const cet = listing({
      source: 'api',
      value: 'opt_in',
      minute: 0,
      moment: '2026-03-01T11:00:00+01:00',
      eventId: 'a',
    });
    const later = listing({
      source: 'api',
      value: 'opt_in',
      minute: 0,
      moment: '2026-03-01T10:30:00+01:00',
      eventId: 'a',
    });
    expect(compareListings(utc, cet)).toBeGreaterThan(0); // decided by eventId, not by the moment text
    expect(compareListings(later, utc)).toBeLessThan(0); // 10:30+01:00 is 09:30Z
  });
});

describe('isRecipientSource', () => {
  it('knows the configured recipient sources and every esp: source', () => {
    for (const s of [
      'unsubscribe_link',
      'list_unsubscribe',
      'preference_center',
      'sms_stop',
      'app_settings',
      'esp:ometria',
    ]) {
      expect(isRecipientSource(s, defaultPolicy), s).toBe(true);
    }
    for (const s of ['api', 'import', 'form', 'third_party', 'esp', 'ESP:x']) {
      expect(isRecipientSource(s, defaultPolicy), s).toBe(false);
    }
  });
});

describe('resolve', () => {
  it('reports every configured channel and tracking as unknown/no_listing without listings', () => {
    const state = resolve([], defaultPolicy);
    expect(Object.keys(state.marketing)).toEqual(['email', 'sms', 'push']);
    for (const d of [...Object.values(state.marketing), state.tracking]) {
      expect(d).toEqual({ state: 'unknown', reason: 'no_listing', authoritative: false, blockedOptIns: [] });
    }
  });

  it('rule 3: without force any opt-out wins, even an older one from a weak source', () => {
    const state = resolve(
      [
        listing({ source: 'import', value: 'opt_out', minute: 1 }),
        listing({ source: 'preference_center', value: 'opt_in', minute: 5 }),
      ],
      defaultPolicy,
    );
    expect(state.marketing.email).toMatchObject({
      state: 'opted_out',
      reason: 'opt_out_priority',
      decidedBy: { source: 'import' },
      authoritative: false,
      blockedOptIns: [{ source: 'preference_center', moment: at(5) }],
    });
  });

  it('rule 3: names the recipient opt-out rather than a newer non-recipient one, and is then authoritative', () => {
    const state = resolve(
      [
        listing({ source: 'list_unsubscribe', value: 'opt_out', minute: 1 }),
        listing({ source: 'api', value: 'opt_out', minute: 3 }),
      ],
      defaultPolicy,
    );
    expect(state.marketing.email).toMatchObject({
      decidedBy: { source: 'list_unsubscribe' },
      authoritative: true,
    });
  });

  it('an older opt-in superseded by a newer opt-out is not reported as blocked', () => {
    const state = resolve(
      [
        listing({ source: 'form', value: 'opt_in', minute: 1 }),
        listing({ source: 'unsubscribe_link', value: 'opt_out', minute: 2 }),
      ],
      defaultPolicy,
    );
    expect(state.marketing.email?.blockedOptIns).toEqual([]);
    const between = resolve(
      [
        listing({ source: 'import', value: 'opt_out', minute: 1 }),
        listing({ source: 'form', value: 'opt_in', minute: 2 }),
        listing({ source: 'unsubscribe_link', value: 'opt_out', minute: 3 }),
      ],
      defaultPolicy,
    );
    expect(between.marketing.email?.blockedOptIns).toEqual([]);
  });

  it('opted_in from non-forced opt-ins names the newest one', () => {
    const state = resolve(
      [
        listing({ source: 'preference_center', value: 'opt_in', minute: 1 }),
        listing({ source: 'form', value: 'opt_in', minute: 2 }),
      ],
      defaultPolicy,
    );
    expect(state.marketing.email).toMatchObject({
      state: 'opted_in',
      reason: 'opt_in',
      decidedBy: { source: 'form' },
      authoritative: false,
    });
  });

  it('keeps channels apart', () => {
    const state = resolve(
      [listing({ source: 'sms_stop', value: 'opt_out', minute: 1, channel: 'sms' })],
      defaultPolicy,
    );
    expect(state.marketing.sms?.state).toBe('opted_out');
    expect(state.marketing.email?.state).toBe('unknown');
    expect(state.tracking.state).toBe('unknown');
  });

  it('still reports a channel that has listings but is no longer configured', () => {
    const state = resolve(
      [listing({ source: 'api', value: 'opt_out', minute: 1, channel: 'fax' })],
      defaultPolicy,
    );
    expect(state.marketing.fax?.state).toBe('opted_out');
  });

  it('ignores a force from a source the policy does not allow to force', () => {
    const policy = createPolicy({ forceSources: ['double_opt_in'] });
    const listings = [
      listing({ source: 'list_unsubscribe', value: 'opt_out', minute: 1 }),
      listing({ source: 'form', value: 'opt_in', minute: 2, force: true }),
    ];
    expect(resolve(listings, policy).marketing.email).toMatchObject({
      state: 'opted_out',
      reason: 'opt_out_priority',
    });
    expect(resolve(listings, defaultPolicy).marketing.email).toMatchObject({
      state: 'opted_in',
      reason: 'forced_opt_in',
    });
  });

  it('resolves tracking from tracking listings only', () => {
    const state = resolve(
      [
        listing({
          kind: 'tracking',
          channel: TRACKING_CHANNEL,
          source: 'app_settings',
          value: 'opt_out',
          minute: 1,
        }),
        listing({ source: 'form', value: 'opt_in', minute: 2 }),
      ],
      defaultPolicy,
    );
    expect(state.tracking).toMatchObject({ state: 'opted_out', decidedBy: { source: 'app_settings' } });
    expect(state.marketing.email?.state).toBe('opted_in');
  });

  it('is not fooled by duplicate listings for one key in its input: the latest counts', () => {
    const state = resolve(
      [
        listing({ source: 'api', value: 'opt_in', minute: 5 }),
        listing({ source: 'api', value: 'opt_out', minute: 1 }),
      ],
      defaultPolicy,
    );
    expect(state.marketing.email?.state).toBe('opted_in');
  });
});

// esp-contracts.md §5.3, and reliability.md §3 — Ometria's precedence, as the resolver reproduces it.
describe('Ometria precedence examples', () => {
  it('a forced opt-in is accepted regardless of other, older listings', () => {
    const state = resolve(
      [
        listing({ source: 'import', value: 'opt_out', minute: 1 }),
        listing({ source: 'third_party', value: 'opt_out', minute: 2 }),
        listing({ source: 'api', value: 'opt_in', minute: 3, force: true }),
      ],
      defaultPolicy,
    );
    expect(state.marketing.email).toMatchObject({
      state: 'opted_in',
      reason: 'forced_opt_in',
      authoritative: true,
    });
  });

  it('a later non-forced update from a non-recipient source cannot override a forced opt-in', () => {
    const state = resolve(
      [
        listing({ source: 'api', value: 'opt_in', minute: 3, force: true }),
        listing({ source: 'third_party', value: 'opt_out', minute: 9 }),
      ],
      defaultPolicy,
    );
    expect(state.marketing.email).toMatchObject({
      state: 'opted_in',
      reason: 'forced_opt_in',
      decidedBy: { source: 'api' },
    });
  });

  it('only another forced listing overrides a forced one: the newer forced listing wins (enhanced force opt-in)', () => {
    const forcedIn = listing({ source: 'api', value: 'opt_in', minute: 3, force: true });
    const forcedOut = listing({ source: 'form', value: 'opt_out', minute: 4, force: true });
    expect(resolve([forcedIn, forcedOut], defaultPolicy).marketing.email).toMatchObject({
      state: 'opted_out',
      reason: 'forced_opt_out',
      decidedBy: { source: 'form', force: true },
    });
    const laterIn = listing({ source: 'preference_center', value: 'opt_in', minute: 5, force: true });
    expect(resolve([forcedIn, forcedOut, laterIn], defaultPolicy).marketing.email).toMatchObject({
      state: 'opted_in',
      reason: 'forced_opt_in',
      decidedBy: { source: 'preference_center' },
    });
  });

  it('a forced opt-in and a forced opt-out at the same moment resolve to opt-out', () => {
    const state = resolve(
      [
        listing({ source: 'api', value: 'opt_in', minute: 3, force: true, eventId: 'zzzz' }),
        listing({ source: 'form', value: 'opt_out', minute: 3, force: true, eventId: 'aaaa' }),
      ],
      defaultPolicy,
    );
    expect(state.marketing.email).toMatchObject({ state: 'opted_out', reason: 'forced_opt_out' });
  });

  it('without force, opt-outs are prioritised over any opt-in, whatever the source hierarchy', () => {
    const state = resolve(
      [
        listing({ source: 'third_party', value: 'opt_out', minute: 1 }),
        listing({ source: 'preference_center', value: 'opt_in', minute: 2 }),
        listing({ source: 'api', value: 'opt_in', minute: 3 }),
      ],
      defaultPolicy,
    );
    expect(state.marketing.email).toMatchObject({
      state: 'opted_out',
      reason: 'opt_out_priority',
      decidedBy: { source: 'third_party' },
    });
    expect(state.marketing.email?.blockedOptIns.map((r) => r.source)).toEqual(['preference_center', 'api']);
  });

  it('deviates from Ometria on purpose: a recipient objection newer than a forced opt-in wins (safety rule)', () => {
    const state = resolve(
      [
        listing({ source: 'api', value: 'opt_in', minute: 3, force: true }),
        listing({ source: 'esp:ometria', value: 'opt_out', minute: 4 }),
      ],
      defaultPolicy,
    );
    expect(state.marketing.email).toMatchObject({
      state: 'opted_out',
      reason: 'recipient_objection',
      decidedBy: { source: 'esp:ometria', force: false },
      overrides: { source: 'api', force: true },
      authoritative: true,
    });
  });

  it('a recipient objection older than the forced opt-in does not win', () => {
    const state = resolve(
      [
        listing({ source: 'list_unsubscribe', value: 'opt_out', minute: 2 }),
        listing({ source: 'api', value: 'opt_in', minute: 3, force: true }),
      ],
      defaultPolicy,
    );
    expect(state.marketing.email?.state).toBe('opted_in');
  });

  it('a recipient objection at the same moment as the forced opt-in wins (ties → opt_out)', () => {
    const state = resolve(
      [
        listing({ source: 'list_unsubscribe', value: 'opt_out', minute: 3, eventId: 'a' }),
        listing({ source: 'api', value: 'opt_in', minute: 3, force: true, eventId: 'z' }),
      ],
      defaultPolicy,
    );
    expect(state.marketing.email).toMatchObject({ state: 'opted_out', reason: 'recipient_objection' });
  });
});
