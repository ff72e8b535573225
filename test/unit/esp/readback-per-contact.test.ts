import { describe, expect, it } from 'vitest';
import { mapActitoProfile, profileMoment, subscriptionMap } from '../../../src/esp/actito/actito.readback.js';
import {
  isAllClear,
  mapRecipientStatus,
  parseRecipientStatus,
} from '../../../src/esp/crossengage/crossengage.readback.js';

const AT = '2025-06-01T12:00:00.000Z';

describe('CrossEngage recipient-status (§2.1, §2.5)', () => {
  const channels = { email: 'MAIL', sms: 'SMS', push: 'PUSH_NOTIFICATION' };
  const who = { externalId: 'u1' };

  it('parses the documented body', () => {
    expect(parseRecipientStatus({ blacklisted: false, optOutAll: false, optOutChannels: ['MAIL'] })).toEqual({
      blacklisted: false,
      optOutAll: false,
      optOutChannels: ['MAIL'],
    });
    expect(parseRecipientStatus({ optOutChannels: [] })).toBeUndefined();
    expect(parseRecipientStatus('x')).toBeUndefined();
  });

  it('a channel opt-out: that channel opted out, the others opted in (an opt-out system)', () => {
    const items = mapRecipientStatus(
      { blacklisted: false, optOutAll: false, optOutChannels: ['SMS'] },
      who,
      channels,
      AT,
    );
    expect(items.map((i) => [i.channel, i.state, i.type])).toEqual([
      ['email', 'opted_in', 'recipient_status'],
      ['sms', 'opted_out', 'opt_out_channel'],
      ['push', 'opted_in', 'recipient_status'],
    ]);
    expect(items.every((i) => i.at === AT && i.identity === who)).toBe(true);
  });

  it('optOutAll and blacklisted opt out every configured channel', () => {
    const all = mapRecipientStatus(
      { blacklisted: false, optOutAll: true, optOutChannels: [] },
      who,
      channels,
      AT,
    );
    expect(all.map((i) => `${i.state}/${i.type}`)).toEqual(Array(3).fill('opted_out/opt_out_all'));
    const black = mapRecipientStatus(
      { blacklisted: true, optOutAll: true, optOutChannels: [] },
      who,
      channels,
      AT,
    );
    expect(black.map((i) => i.type)).toEqual(['blacklisted', 'blacklisted', 'blacklisted']);
  });

  it('only configured canonical channels', () => {
    const items = mapRecipientStatus(
      { blacklisted: false, optOutAll: false, optOutChannels: [] },
      who,
      { email: 'MAIL', fax: 'DIRECT_MAIL' },
      AT,
    );
    expect(items.map((i) => i.channel)).toEqual(['email']);
  });

  it('isAllClear', () => {
    expect(isAllClear({ blacklisted: false, optOutAll: false, optOutChannels: [] })).toBe(true);
    expect(isAllClear({ blacklisted: false, optOutAll: false, optOutChannels: ['MAIL'] })).toBe(false);
  });
});

describe('Actito profile (§3.3, §3.4)', () => {
  const settings = {
    marketingConsentChannel: 'email',
    subscriptions: { sms: 'SMS_News' } as Record<string, string>,
    trackingAttribute: 'trackingConsent',
    uniqueKeyAttribute: 'emailAddress',
  };
  const profile = (attrs: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    profileId: 1,
    attributes: Object.entries({ emailAddress: 'ann@example.com', ...attrs }).map(([name, value]) => ({
      name,
      value,
    })),
    ...extra,
  });
  const who = { email: 'ann@example.com' };

  it('marketingConsent speaks for its channel only; each subscription for its own channel; tracking', () => {
    const items = mapActitoProfile(
      profile(
        { marketingConsent: false, trackingConsent: true },
        { dataCollectionInformation: { source: 'x', way: 'unsubscribe_link', date: '2025-05-31 10:20:30' } },
      ),
      new Map([['SMS_News', true]]),
      who,
      settings,
      AT,
    );
    expect(items).toEqual([
      {
        identity: who,
        channel: 'email',
        state: 'opted_out',
        at: '2025-05-31T10:20:30.000Z',
        type: 'marketing_consent',
      },
      {
        identity: who,
        channel: 'sms',
        state: 'opted_in',
        at: '2025-05-31T10:20:30.000Z',
        type: 'subscription:SMS_News',
      },
      {
        identity: who,
        channel: 'tracking',
        state: 'opted_in',
        at: '2025-05-31T10:20:30.000Z',
        type: 'tracking_consent',
      },
    ]);
  });

  it('a channel with both marketingConsent and a subscription: either refusal opts it out', () => {
    const both = { ...settings, subscriptions: { email: 'Newsletter' } };
    const refused = mapActitoProfile(
      profile({ marketingConsent: true }),
      new Map([['Newsletter', false]]),
      who,
      both,
      AT,
    );
    expect(refused).toEqual([
      { identity: who, channel: 'email', state: 'opted_out', at: AT, type: 'subscription:Newsletter' },
    ]);
    const given = mapActitoProfile(
      profile({ marketingConsent: true }),
      new Map([['Newsletter', true]]),
      who,
      both,
      AT,
    );
    expect(given.map((i) => i.state)).toEqual(['opted_in']);
  });

  it('values the profile does not hold produce no item', () => {
    expect(mapActitoProfile(profile({}), new Map(), who, settings, AT)).toEqual([]);
    expect(
      mapActitoProfile(
        profile({ marketingConsent: 'yes' }),
        new Map(),
        who,
        { ...settings, trackingAttribute: '' },
        AT,
      ),
    ).toEqual([]);
  });

  it('moment: data collection date, else updateMoment, else the read time', () => {
    expect(profileMoment({ updateMoment: '2025-01-02T03:04:05Z' }, AT)).toBe('2025-01-02T03:04:05.000Z');
    expect(profileMoment({ dataCollectionInformation: { date: 'garbage' } }, AT)).toBe(AT);
  });

  it('subscriptionMap', () => {
    expect(subscriptionMap([{ name: 'A', subscribe: false }, { name: 'B' }])).toEqual(
      new Map([['A', false]]),
    );
    expect(subscriptionMap(undefined)).toBeUndefined();
  });
});
