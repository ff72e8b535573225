import { describe, expect, it } from 'vitest';
import {
  LEAD_REOPT_IN_REASON,
  leadEventBodies,
  leadEvents,
  optOutStatusBody,
  planContact,
  routeFor,
  unknownUserOutcome,
} from '../../../src/esp/crossengage/crossengage.mapping.js';
import { makeSnapshot, state } from './make-snapshot.js';

const settings = {
  channelTypes: { email: 'MAIL', sms: 'SMS', push: 'PUSH_NOTIFICATION' },
  optOutEventName: 'Opt Out',
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
      kind: 'not_applicable',
      detail: 'CrossEngage has no tracking consent',
    });
  });

  it('a contact without externalId or email is missing_identity', () => {
    const plan = planContact(
      makeSnapshot({ identities: { phone: '+4912345678' }, sms: state('opted_out') }),
      settings,
    );
    expect(plan.targets).toEqual([]);
    expect(plan.skipped).toContainEqual({
      kind: 'missing_identity',
      detail: 'CrossEngage needs an externalId or an email',
    });
  });

  it('lead opt-outs are "Opt Out" events with channel.type at event level, ≤ N per request', () => {
    const plan = planContact(
      makeSnapshot({ identities: { email: 'a@b.io' }, email: state('opted_out'), sms: state('opted_out') }),
      settings,
    );
    const { events, blocked } = leadEvents(plan.targets, settings);
    expect(blocked).toBe(false);
    expect(leadEventBodies({ email: 'a@b.io', businessUnit: 'de' }, events, settings)).toEqual([
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
    expect(leadEventBodies({ email: 'a@b.io' }, three, { eventsPerRequest: 2 })).toHaveLength(2);
  });

  it('a lead opt-in is blocked unless an "Opt In" event name is configured', () => {
    const plan = planContact(
      makeSnapshot({ identities: { email: 'a@b.io' }, email: state('opted_in') }),
      settings,
    );
    expect(leadEvents(plan.targets, settings)).toEqual({ events: [], blocked: true });
    expect(leadEvents(plan.targets, { ...settings, optInEventName: 'Opt In' })).toEqual({
      events: [{ event: 'Opt In', 'channel.type': 'MAIL' }],
      blocked: false,
    });
  });

  it('404 unknown user and lead re-opt-in have explicit outcomes', () => {
    expect(unknownUserOutcome()).toEqual({ kind: 'missing_identity', detail: expect.stringMatching(/404/) });
    expect(LEAD_REOPT_IN_REASON).toMatch(/no "Opt In" event/);
  });
});
