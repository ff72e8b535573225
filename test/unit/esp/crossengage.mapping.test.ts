import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  consentEvents,
  eventBodies,
  eventsRecipient,
  optOutStatusBody,
  planContact,
  routeFor,
  unknownUserOutcome,
} from '../../../src/esp/crossengage/crossengage.mapping.js';
import { makeSnapshot, state } from './make-snapshot.js';

const settings = {
  channelTypes: { email: 'MAIL', sms: 'SMS', push: 'PUSH_NOTIFICATION' },
  optOutEventName: 'Opt Out',
  optInEventName: 'Opt In',
  eventsPerRequest: 50,
};

describe('CrossEngage routes (esp-contracts.md §2)', () => {
  it.each([
    [
      { externalId: 'u1', email: 'a@b.io' },
      { kind: 'user', externalId: 'u1' },
    ],
    [
      { email: 'a@b.io', businessUnit: 'de' },
      { kind: 'lead', email: 'a@b.io', businessUnit: 'de' },
    ],
    [{ email: 'a@b.io' }, { kind: 'lead', email: 'a@b.io' }],
    [{ phone: '+4912345678' }, { kind: 'none' }],
  ])('%j → %j', (identities, route) => {
    expect(routeFor(makeSnapshot({ identities }))).toEqual(route);
  });

  it('maps channels to channelType and marks tracking not applicable', () => {
    const plan = planContact(
      makeSnapshot({ email: state('opted_out'), push: state('opted_in'), tracking: state('opted_out') }),
      settings,
    );
    expect(plan.targets.map((t) => [t.espChannel, optOutStatusBody(t)])).toEqual([
      ['MAIL', { optOut: true }],
      ['PUSH_NOTIFICATION', { optOut: false }],
    ]);
    expect(plan.skipped).toContainEqual({
      channel: 'tracking',
      decided: true,
      outcome: { kind: 'not_applicable', detail: 'CrossEngage has no tracking consent' },
    });
  });

  it('a contact without externalId or email is missing_identity', () => {
    const plan = planContact(
      makeSnapshot({ identities: { phone: '+4912345678' }, sms: state('opted_out') }),
      settings,
    );
    expect(plan.targets).toEqual([]);
    expect(plan.skipped).toContainEqual({
      channel: 'sms',
      decided: true,
      outcome: { kind: 'missing_identity', detail: 'CrossEngage needs an externalId or an email' },
    });
  });

  it('lead opt-outs are "Opt Out" events with channel.type at event level, ≤ N per request', () => {
    const plan = planContact(
      makeSnapshot({ identities: { email: 'a@b.io' }, email: state('opted_out'), sms: state('opted_out') }),
      settings,
    );
    const events = consentEvents(plan.targets, settings);
    expect(eventBodies({ email: 'a@b.io', businessUnit: 'de' }, events, settings)).toEqual([
      {
        email: 'a@b.io',
        businessUnit: 'de',
        events: [
          { event: 'Opt Out', 'channel.type': 'MAIL' },
          { event: 'Opt Out', 'channel.type': 'SMS' },
        ],
      },
    ]);
    const three = ['MAIL', 'SMS', 'PUSH_NOTIFICATION'].map((t) => ({ event: 'Opt Out', 'channel.type': t }));
    expect(eventBodies({ email: 'a@b.io' }, three, { eventsPerRequest: 2 })).toHaveLength(2);
  });

  it('an opted-in channel is an "Opt In" event (seeds/001), for leads and users alike', () => {
    const plan = planContact(
      makeSnapshot({ identities: { email: 'a@b.io' }, email: state('opted_in'), push: state('opted_out') }),
      settings,
    );
    expect(consentEvents(plan.targets, settings)).toEqual([
      { event: 'Opt In', 'channel.type': 'MAIL' },
      { event: 'Opt Out', 'channel.type': 'PUSH_NOTIFICATION' },
    ]);
  });

  it('a full user is addressed by externalId, a lead by email and businessUnit', () => {
    expect(eventsRecipient({ kind: 'user', externalId: 'u1' })).toEqual({ id: 'u1' });
    expect(eventsRecipient({ kind: 'lead', email: 'a@b.io', businessUnit: 'de' })).toEqual({
      email: 'a@b.io',
      businessUnit: 'de',
    });
    expect(eventsRecipient({ kind: 'lead', email: 'a@b.io' })).toEqual({ email: 'a@b.io' });
  });

  it('property: one event per decided channel, named by its state; bodies keep order in ⌈n/size⌉ requests', () => {
    const decidedState = fc.constantFrom('opted_in' as const, 'opted_out' as const, 'unknown' as const);
    fc.assert(
      fc.property(
        decidedState,
        decidedState,
        decidedState,
        fc.integer({ min: 1, max: 50 }),
        (e, s, p, size) => {
          const plan = planContact(
            makeSnapshot({ email: state(e), sms: state(s), push: state(p) }),
            settings,
          );
          const events = consentEvents(plan.targets, settings);
          const decided = [e, s, p].filter((v) => v !== 'unknown');
          expect(events.map((x) => x.event)).toEqual(
            decided.map((v) => (v === 'opted_out' ? 'Opt Out' : 'Opt In')),
          );
          const bodies = eventBodies({ id: 'u1' }, events, { eventsPerRequest: size });
          expect(bodies).toHaveLength(Math.ceil(events.length / size));
          expect(bodies.flatMap((b) => b.events)).toEqual(events);
          for (const b of bodies) expect(b.events.length).toBeLessThanOrEqual(size);
        },
      ),
    );
  });

  it('404 unknown user has an explicit outcome', () => {
    expect(unknownUserOutcome()).toEqual({ kind: 'missing_identity', detail: expect.stringMatching(/404/) });
  });
});
