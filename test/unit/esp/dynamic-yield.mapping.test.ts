import { describe, expect, it } from 'vitest';
import { hashEmail, planRequests } from '../../../src/esp/dynamic-yield/dynamic-yield.mapping.js';
import { makeSnapshot, state } from './make-snapshot.js';

const reconnect = {
  api: 'reconnect' as const,
  reconnectChannels: { email: 'email', sms: 'sms' },
  reconnectIdentifier: 'typed' as const,
  emailCuidType: 'email' as const,
  pushChannelType: 'APP_PUSH' as const,
};
const event = { ...reconnect, api: 'event' as const };
const identities = {
  externalId: 'ext-1',
  email: 'Ann@Example.com',
  phone: '+4915112345678',
  pushId: 'push-token',
};

describe('Dynamic Yield requests (esp-contracts.md §4)', () => {
  it('Reconnect mode: opt-in/opt-out endpoints for email and sms; push as an event', () => {
    const { requests, skipped } = planRequests(
      makeSnapshot({
        identities,
        email: state('opted_out'),
        sms: state('opted_in'),
        push: state('opted_out'),
        tracking: state('opted_out'),
      }),
      reconnect,
    );
    expect(requests).toEqual([
      {
        kind: 'reconnect',
        path: '/v2/userdata/channels/email/opt-out',
        body: { identifier: { type: 'email', value: 'Ann@Example.com' } },
        channels: ['email'],
      },
      {
        kind: 'reconnect',
        path: '/v2/userdata/channels/sms/opt-in',
        body: { identifier: { type: 'phone', value: '+4915112345678' } },
        channels: ['sms'],
      },
      {
        kind: 'events',
        body: {
          user: { id: 'ext-1' },
          session: { custom: 'contact-1' },
          events: [
            { name: 'Push Opt-Out', properties: { dyType: 'message-optout-v1', pushID: 'push-token' } },
          ],
        },
        channels: ['push'],
      },
    ]);
    expect(skipped).toEqual([
      {
        channel: 'tracking',
        decided: true,
        outcome: { kind: 'not_applicable', detail: 'Dynamic Yield has no tracking consent' },
      },
    ]);
  });

  it('event mode: email opt-out by plain address, opt-in by SHA-256 of the lower-cased address; sms not applicable', () => {
    const optOut = planRequests(
      makeSnapshot({ identities, email: state('opted_out'), sms: state('opted_out') }),
      event,
    );
    expect(optOut.requests[0]).toMatchObject({
      kind: 'events',
      body: {
        events: [
          {
            properties: { dyType: 'message-optout-v1', cuidType: 'email', plainTextEmail: 'Ann@Example.com' },
          },
        ],
      },
    });
    expect(optOut.skipped).toContainEqual({
      channel: 'sms',
      decided: true,
      outcome: { kind: 'not_applicable', detail: 'Dynamic Yield has no sms channel in event mode' },
    });

    const optIn = planRequests(
      makeSnapshot({ identities, email: state('opted_in'), push: state('opted_in') }),
      event,
    );
    expect(optIn.requests).toEqual([
      {
        kind: 'events',
        body: {
          user: { id: 'ext-1' },
          session: { custom: 'contact-1' },
          events: [
            {
              name: 'Email Opt-In',
              properties: {
                dyType: 'message-optin-v1',
                cuidType: 'hashedEmail',
                hashedEmail: hashEmail('ann@example.com'),
              },
            },
            {
              name: 'Push Opt-In',
              properties: { dyType: 'message-optin-v1', pushID: 'push-token', channelType: 'APP_PUSH' },
            },
          ],
        },
        channels: ['email', 'push'],
      },
    ]);
  });

  it('keyed identifiers name the identity type as the key', () => {
    const { requests } = planRequests(
      makeSnapshot({ identities, email: state('opted_out'), sms: state('opted_out') }),
      { ...reconnect, reconnectIdentifier: 'keyed' },
    );
    expect(requests.map((r) => r.kind === 'reconnect' && r.body.identifier)).toEqual([
      { email: 'Ann@Example.com' },
      { phone: '+4915112345678' },
    ]);
  });

  it('missing identities are reported per channel', () => {
    const { requests, skipped } = planRequests(
      makeSnapshot({ identities: { email: 'a@b.io' }, sms: state('opted_out'), push: state('opted_out') }),
      reconnect,
    );
    expect(requests).toEqual([]);
    expect(skipped.map((s) => [s.channel, s.outcome.kind])).toEqual([
      ['email', 'not_applicable'],
      ['sms', 'missing_identity'],
      ['push', 'missing_identity'],
    ]);
  });

  it('hashEmail is SHA-256 hex of the trimmed lower-cased address', () => {
    expect(hashEmail(' A@B.io ')).toBe(hashEmail('a@b.io'));
    expect(hashEmail('a@b.io')).toMatch(/^[0-9a-f]{64}$/);
  });
});
