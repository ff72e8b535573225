import { describe, expect, it } from 'vitest';
import {
  applyEvent,
  clampFutureMoment,
  createPolicy,
  defaultPolicy,
  expandChannels,
  explainSuppression,
  resolve,
  TRACKING_CHANNEL,
} from '../../../src/domain/index.js';
import { applyAll, at, ev } from './fixtures.js';

describe('expandChannels', () => {
  it("expands 'all' to the configured channels, tracking to the tracking key, nothing to nothing", () => {
    expect(
      expandChannels(
        ev({ id: 'a', value: 'opt_out', source: 'api', minute: 0, channel: 'all' }),
        defaultPolicy,
      ),
    ).toEqual(['email', 'sms', 'push']);
    expect(
      expandChannels(
        ev({ id: 'b', value: 'opt_out', source: 'api', minute: 0, channel: 'all' }),
        createPolicy({ channels: ['email'] }),
      ),
    ).toEqual(['email']);
    expect(
      expandChannels(
        ev({ id: 'c', kind: 'tracking', value: 'opt_out', source: 'api', minute: 0, channel: 'email' }),
        defaultPolicy,
      ),
    ).toEqual([TRACKING_CHANNEL]);
    expect(
      expandChannels(ev({ id: 'd', value: 'opt_out', source: 'api', minute: 0 }), defaultPolicy),
    ).toEqual([]);
    expect(
      expandChannels(
        ev({ id: 'e', value: 'opt_out', source: 'api', minute: 0, channel: 'sms' }),
        defaultPolicy,
      ),
    ).toEqual(['sms']);
  });
});

describe('applyEvent outcomes', () => {
  const optOut = ev({ id: 'e1', channel: 'email', value: 'opt_out', source: 'unsubscribe_link', minute: 10 });

  it('applies a first opt-out and reports the changed channel', () => {
    const r = applyEvent([], optOut, defaultPolicy);
    expect(r.outcome).toBe('applied');
    expect(r.stateChanged).toBe(true);
    expect(r.changedChannels).toEqual(['email']);
    expect(r.previous.marketing.email?.state).toBe('unknown');
    expect(r.next.marketing.email?.state).toBe('opted_out');
    expect(r.listings).toEqual([
      {
        kind: 'marketing',
        channel: 'email',
        source: 'unsubscribe_link',
        value: 'opt_out',
        force: false,
        moment: at(10),
        eventId: 'e1',
      },
    ]);
  });

  it('a second delivery of the same event is a duplicate and changes nothing', () => {
    const once = applyEvent([], optOut, defaultPolicy);
    const twice = applyEvent(once.listings, optOut, defaultPolicy);
    expect(twice.outcome).toBe('duplicate');
    expect(twice.stateChanged).toBe(false);
    expect(twice.listings).toEqual(once.listings);
    expect(twice.next).toEqual(once.next);
  });

  it('an event older than the listing of its source is stale', () => {
    const { listings } = applyAll([optOut]);
    const r = applyEvent(
      listings,
      ev({ id: 'e0', channel: 'email', value: 'opt_in', source: 'unsubscribe_link', minute: 5 }),
      defaultPolicy,
    );
    expect(r.outcome).toBe('stale');
    expect(r.listings).toEqual(listings);
  });

  it('a newer event from another source that does not change the state is no_change, but is recorded', () => {
    const { listings } = applyAll([optOut]);
    const r = applyEvent(
      listings,
      ev({ id: 'e2', channel: 'email', value: 'opt_out', source: 'api', minute: 11 }),
      defaultPolicy,
    );
    expect(r.outcome).toBe('no_change');
    expect(r.stateChanged).toBe(false);
    expect(r.listings).toHaveLength(2);
  });

  it('rejects an unknown channel, naming it, and leaves the listings alone', () => {
    const { listings } = applyAll([optOut]);
    const r = applyEvent(
      listings,
      ev({ id: 'x', channel: 'fax', value: 'opt_out', source: 'api', minute: 11 }),
      defaultPolicy,
    );
    expect(r.outcome).toBe('rejected');
    expect(r.rejectReason).toContain('"fax"');
    expect(r.listings).toEqual(listings);
  });

  it('rejects an event whose moment has no zone or is not a date', () => {
    for (const moment of ['2026-03-01T10:00:00', 'yesterday', '2026-02-30T10:00:00Z']) {
      const r = applyEvent([], { ...optOut, moment }, defaultPolicy);
      expect(r.outcome, moment).toBe('rejected');
      expect(r.rejectReason).toMatch(/moment/);
    }
  });

  it('returns canonical listings whatever the order of its input', () => {
    const events = [
      ev({ id: 'a', channel: 'sms', value: 'opt_out', source: 'sms_stop', minute: 1 }),
      ev({ id: 'b', channel: 'email', value: 'opt_in', source: 'form', minute: 2 }),
      ev({ id: 'c', kind: 'tracking', value: 'opt_out', source: 'app_settings', minute: 3 }),
    ];
    const { listings } = applyAll(events);
    const reversed = [...listings].reverse();
    const probe = ev({ id: 'p', channel: 'push', value: 'opt_in', source: 'api', minute: 4 });
    expect(applyEvent(reversed, probe, defaultPolicy).listings).toEqual(
      applyEvent(listings, probe, defaultPolicy).listings,
    );
  });
});

// esp-contracts.md §2.2: CrossEngage's system "Opt Out" event, as an ESP-reported recipient event.
describe('CrossEngage "Opt Out" events', () => {
  it('channel.type ALL → channel all: every configured channel is opted out', () => {
    const r = applyEvent(
      [],
      ev({ id: 'ce1', channel: 'all', value: 'opt_out', source: 'esp:crossengage', minute: 1 }),
      defaultPolicy,
    );
    expect(r.outcome).toBe('applied');
    expect(r.changedChannels.sort()).toEqual(['email', 'push', 'sms']);
    expect(r.listings.map((l) => l.channel)).toEqual(['email', 'push', 'sms']);
    for (const c of ['email', 'sms', 'push']) expect(r.next.marketing[c]?.state, c).toBe('opted_out');
    expect(r.next.tracking.state).toBe('unknown');
  });

  it('channel.type MAIL → channel email: only email is opted out', () => {
    const r = applyEvent(
      [],
      ev({ id: 'ce2', channel: 'email', value: 'opt_out', source: 'esp:crossengage', minute: 1 }),
      defaultPolicy,
    );
    expect(r.outcome).toBe('applied');
    expect(r.changedChannels).toEqual(['email']);
    expect(r.next.marketing.sms?.state).toBe('unknown');
  });

  it('no channel → no_channel: recorded for the audit trail, no listing, no state change', () => {
    const start = applyAll([
      ev({ id: 'in', channel: 'email', value: 'opt_in', source: 'form', minute: 0 }),
    ]).listings;
    const r = applyEvent(
      start,
      ev({ id: 'ce3', value: 'opt_out', source: 'esp:crossengage', minute: 1 }),
      defaultPolicy,
    );
    expect(r.outcome).toBe('no_channel');
    expect(r.listings).toEqual(start);
    expect(r.stateChanged).toBe(false);
    expect(r.next.marketing.email?.state).toBe('opted_in');
  });

  it("an 'all' opt-out partly superseded on one channel replaces only the older listings", () => {
    const { listings } = applyAll([
      ev({ id: 'newer', channel: 'sms', value: 'opt_in', source: 'esp:crossengage', minute: 9 }),
    ]);
    const r = applyEvent(
      listings,
      ev({ id: 'ce4', channel: 'all', value: 'opt_out', source: 'esp:crossengage', minute: 5 }),
      defaultPolicy,
    );
    expect(r.outcome).toBe('applied');
    expect(r.listings.find((l) => l.channel === 'sms')?.eventId).toBe('newer');
    expect(r.next.marketing.sms?.state).toBe('opted_in');
    expect(r.next.marketing.email?.state).toBe('opted_out');
    // Re-delivered: it holds on email and push and is superseded on sms — still a duplicate.
    expect(
      applyEvent(
        r.listings,
        ev({ id: 'ce4', channel: 'all', value: 'opt_out', source: 'esp:crossengage', minute: 5 }),
        defaultPolicy,
      ).outcome,
    ).toBe('duplicate');
  });
});

describe('the lead who unsubscribes and comes back', () => {
  const unsubscribe = ev({
    id: 'lu',
    channel: 'email',
    value: 'opt_out',
    source: 'list_unsubscribe',
    minute: 10,
  });
  const reOptIn = ev({ id: 'form', channel: 'email', value: 'opt_in', source: 'form', minute: 20 });
  const confirmation = ev({
    id: 'doi',
    channel: 'email',
    value: 'opt_in',
    source: 'double_opt_in',
    minute: 30,
    force: true,
  });
  const laterObjection = ev({
    id: 'link',
    channel: 'email',
    value: 'opt_out',
    source: 'unsubscribe_link',
    minute: 40,
  });

  it('a non-forced re-opt-in is recorded but blocked, naming the blocking listing', () => {
    const { listings } = applyAll([unsubscribe]);
    const r = applyEvent(listings, reOptIn, defaultPolicy);
    expect(r.outcome).toBe('optin_blocked');
    expect(r.blockedBy).toEqual({
      source: 'list_unsubscribe',
      moment: at(10),
      eventId: 'lu',
      force: false,
      value: 'opt_out',
    });
    expect(r.stateChanged).toBe(false);
    expect(r.listings.map((l) => l.eventId)).toEqual(['form', 'lu']);
    expect(r.next.marketing.email?.blockedOptIns).toEqual([
      { source: 'form', moment: at(20), eventId: 'form', force: false, value: 'opt_in' },
    ]);
    expect(explainSuppression(r.next)).toEqual([
      `email opted_out: recipient objection via list_unsubscribe at ${at(10)}; later opt-in not honoured (form at ${at(20)}): only a forced opt-in, e.g. a double-opt-in confirmation, lifts it`,
    ]);
  });

  it('a forced re-opt-in (double-opt-in confirmation) after the list-unsubscribe wins', () => {
    const { listings } = applyAll([unsubscribe, reOptIn]);
    const r = applyEvent(listings, confirmation, defaultPolicy);
    expect(r.outcome).toBe('applied');
    expect(r.changedChannels).toEqual(['email']);
    expect(r.next.marketing.email).toMatchObject({
      state: 'opted_in',
      reason: 'forced_opt_in',
      authoritative: true,
      decidedBy: { eventId: 'doi' },
    });
    expect(explainSuppression(r.next)).toEqual([]);
  });

  it('a later recipient opt-out beats that forced opt-in', () => {
    const { listings } = applyAll([unsubscribe, reOptIn, confirmation]);
    const r = applyEvent(listings, laterObjection, defaultPolicy);
    expect(r.outcome).toBe('applied');
    expect(r.next.marketing.email).toMatchObject({
      state: 'opted_out',
      reason: 'recipient_objection',
      decidedBy: { eventId: 'link' },
      overrides: { eventId: 'doi' },
    });
  });

  it('a forced opt-in that arrives late, older than the objection, is recorded as no_change, not optin_blocked', () => {
    const { listings } = applyAll([unsubscribe, laterObjection]);
    const lateConfirmation = ev({
      id: 'doi-late',
      channel: 'email',
      value: 'opt_in',
      source: 'double_opt_in',
      minute: 35,
      force: true,
    });
    const r = applyEvent(listings, lateConfirmation, defaultPolicy);
    expect(r.outcome).toBe('no_change');
    expect(r.blockedBy).toBeUndefined();
    expect(r.listings.map((l) => l.eventId)).toContain('doi-late');
    expect(r.next.marketing.email).toMatchObject({
      state: 'opted_out',
      reason: 'recipient_objection',
      overrides: { eventId: 'doi-late' },
    });
  });

  it('the same history delivered backwards ends in the same state', () => {
    const forward = applyAll([unsubscribe, reOptIn, confirmation, laterObjection]);
    const backward = applyAll([laterObjection, confirmation, reOptIn, unsubscribe]);
    expect(backward.listings).toEqual(forward.listings);
    expect(resolve(backward.listings, defaultPolicy)).toEqual(resolve(forward.listings, defaultPolicy));
  });
});

describe('removing a force', () => {
  it('a later non-forced listing from the same source replaces the forced one', () => {
    const { listings } = applyAll([
      ev({ id: 'out', channel: 'email', value: 'opt_out', source: 'import', minute: 1 }),
      ev({ id: 'forced', channel: 'email', value: 'opt_in', source: 'api', minute: 2, force: true }),
    ]);
    expect(resolve(listings, defaultPolicy).marketing.email?.state).toBe('opted_in');
    const r = applyEvent(
      listings,
      ev({ id: 'unforce', channel: 'email', value: 'opt_in', source: 'api', minute: 3 }),
      defaultPolicy,
    );
    // The opt-out from the import counts again once nothing is forced: the un-forced opt-in is blocked by it.
    expect(r.outcome).toBe('optin_blocked');
    expect(r.blockedBy).toMatchObject({ source: 'import', eventId: 'out' });
    expect(r.changedChannels).toEqual(['email']);
    expect(r.listings.filter((l) => l.source === 'api')).toEqual([
      {
        kind: 'marketing',
        channel: 'email',
        source: 'api',
        value: 'opt_in',
        force: false,
        moment: at(3),
        eventId: 'unforce',
      },
    ]);
  });

  it('a non-forced listing from another source does not remove it', () => {
    const { listings } = applyAll([
      ev({ id: 'forced', channel: 'email', value: 'opt_in', source: 'api', minute: 2, force: true }),
      ev({ id: 'other', channel: 'email', value: 'opt_out', source: 'import', minute: 3 }),
    ]);
    expect(resolve(listings, defaultPolicy).marketing.email).toMatchObject({
      state: 'opted_in',
      reason: 'forced_opt_in',
    });
  });
});

// product.md §1: Actito keeps tracking consent apart from marketing consent.
describe('Actito tracking refusal', () => {
  it('opts out of tracking and leaves marketing consent untouched', () => {
    const { listings } = applyAll([
      ev({ id: 'm1', channel: 'email', value: 'opt_in', source: 'form', minute: 1 }),
      ev({ id: 'm2', channel: 'sms', value: 'opt_in', source: 'form', minute: 1 }),
    ]);
    const r = applyEvent(
      listings,
      ev({ id: 't1', kind: 'tracking', value: 'opt_out', source: 'esp:actito', minute: 2 }),
      defaultPolicy,
    );
    expect(r.outcome).toBe('applied');
    expect(r.changedChannels).toEqual([TRACKING_CHANNEL]);
    expect(r.next.tracking).toMatchObject({ state: 'opted_out', decidedBy: { source: 'esp:actito' } });
    expect(r.next.marketing).toEqual(r.previous.marketing);
    expect(r.next.marketing.email?.state).toBe('opted_in');
    expect(explainSuppression(r.next)).toEqual([
      `tracking opted_out: recipient objection via esp:actito at ${at(2)}`,
    ]);
  });

  it('a marketing opt-out does not touch tracking consent', () => {
    const { listings } = applyAll([
      ev({ id: 't', kind: 'tracking', value: 'opt_in', source: 'app_settings', minute: 1 }),
    ]);
    const r = applyEvent(
      listings,
      ev({ id: 'm', channel: 'all', value: 'opt_out', source: 'unsubscribe_link', minute: 2 }),
      defaultPolicy,
    );
    expect(r.next.tracking.state).toBe('opted_in');
    expect(r.changedChannels).not.toContain(TRACKING_CHANNEL);
  });
});

describe('clampFutureMoment (future-dated policy)', () => {
  const received = '2026-03-01T10:00:00.000Z';

  it('clamps a moment beyond receivedAt + maxFutureSkewMs to receivedAt', () => {
    expect(clampFutureMoment('2026-03-01T10:05:00.001Z', received, defaultPolicy)).toEqual({
      moment: received,
      clamped: true,
    });
    expect(clampFutureMoment('2027-01-01T00:00:00Z', received, defaultPolicy)).toEqual({
      moment: received,
      clamped: true,
    });
  });

  it('keeps a moment within the tolerance, exactly at it, or in the past', () => {
    for (const m of [
      '2026-03-01T10:05:00.000Z',
      '2026-03-01T10:04:59Z',
      '2026-03-01T09:00:00Z',
      '2020-01-01T00:00:00Z',
    ]) {
      expect(clampFutureMoment(m, received, defaultPolicy), m).toEqual({ moment: m, clamped: false });
    }
  });

  it('compares instants across offsets and honours the policy tolerance', () => {
    expect(clampFutureMoment('2026-03-01T11:04:00+01:00', received, defaultPolicy).clamped).toBe(false);
    expect(clampFutureMoment('2026-03-01T11:06:00+01:00', received, defaultPolicy).clamped).toBe(true);
    expect(
      clampFutureMoment('2026-03-01T10:00:01Z', received, createPolicy({ maxFutureSkewMs: 0 })).clamped,
    ).toBe(true);
  });

  it('a clamped far-future opt-in cannot outrank a later genuine opt-out from the same source', () => {
    const forged = ev({ id: 'f', channel: 'email', value: 'opt_in', source: 'preference_center', minute: 0 });
    forged.moment = clampFutureMoment('2030-01-01T00:00:00Z', at(0), defaultPolicy).moment;
    const optOut = ev({
      id: 'o',
      channel: 'email',
      value: 'opt_out',
      source: 'preference_center',
      minute: 1,
    });
    expect(applyAll([forged, optOut]).listings.map((l) => l.eventId)).toEqual(['o']);
  });

  it('throws a RangeError on an invalid moment or receivedAt', () => {
    expect(() => clampFutureMoment('soon', received, defaultPolicy)).toThrow(RangeError);
    expect(() => clampFutureMoment(received, '2026-03-01 10:00', defaultPolicy)).toThrow(RangeError);
  });
});
