import { describe, expect, it } from 'vitest';
import {
  buildProfileUpsert,
  formatCollectionDate,
  parseTokenResponse,
  profilePath,
} from '../../../src/esp/actito/actito.mapping.js';
import { makeSnapshot, state } from './make-snapshot.js';

const NOW = '2025-06-01T12:00:00.000Z';
const settings = {
  uniqueKeyAttribute: 'emailAddress',
  marketingConsentChannel: 'email',
  subscriptions: { sms: 'SMS_News' },
  trackingAttribute: 'trackingConsent',
  dataCollection: { source: 'consent-sync', way: 'api_push', dateFormat: 'actito' as const },
};

describe('Actito profile upsert (esp-contracts.md §3.3)', () => {
  it('sets marketingConsent, subscriptions, tracking and the data collection information', () => {
    const result = buildProfileUpsert(
      makeSnapshot({
        email: state('opted_out', { source: 'list_unsubscribe' }),
        sms: state('opted_in'),
        push: state('opted_out'),
        tracking: state('opted_in'),
      }),
      settings,
      NOW,
    );
    expect(result).toEqual({
      body: {
        attributes: [
          { name: 'emailAddress', value: 'ann@example.com' },
          { name: 'marketingConsent', value: false },
          { name: 'trackingConsent', value: true },
        ],
        subscriptions: [{ name: 'SMS_News', subscribe: true }],
        dataCollectionInformation: {
          source: 'list_unsubscribe',
          way: 'api_push',
          date: '2025-05-31 10:20:30',
        },
      },
      covered: ['email', 'tracking'],
      // the SMS subscription is set, but marketingConsent=false filters every campaign
      gated: ['sms'],
      skipped: [
        {
          channel: 'push',
          decided: true,
          outcome: {
            kind: 'not_applicable',
            detail: 'Actito has no push subscription configured (ACTITO_SUBSCRIPTIONS maps channels to subscriptions)',
          },
        },
      ],
    });
  });

  it('an opt-in on a subscription channel is gated only while marketingConsent is false', () => {
    const gatedOf = (email: 'opted_in' | 'opted_out', sms: 'opted_in' | 'opted_out') => {
      const built = buildProfileUpsert(makeSnapshot({ email: state(email), sms: state(sms) }), settings, NOW);
      return 'gated' in built ? { gated: built.gated, covered: built.covered } : built;
    };
    expect(gatedOf('opted_out', 'opted_in')).toEqual({ gated: ['sms'], covered: ['email'] });
    expect(gatedOf('opted_out', 'opted_out')).toEqual({ gated: [], covered: ['email', 'sms'] });
    expect(gatedOf('opted_in', 'opted_in')).toEqual({ gated: [], covered: ['email', 'sms'] });
    // without a marketingConsent channel nothing gates
    const free = buildProfileUpsert(makeSnapshot({ email: state('opted_out'), sms: state('opted_in') }), { ...settings, marketingConsentChannel: '' }, NOW);
    expect(free).toMatchObject({ gated: [], covered: ['sms'] });
  });

  it('nothing decided → not_applicable; no email → missing_identity', () => {
    expect(buildProfileUpsert(makeSnapshot(), settings, NOW)).toMatchObject({
      outcome: { kind: 'not_applicable' },
    });
    expect(
      buildProfileUpsert(
        makeSnapshot({ identities: { externalId: 'x' }, email: state('opted_in') }),
        settings,
        NOW,
      ),
    ).toMatchObject({ outcome: { kind: 'missing_identity' } });
  });

  it('an empty tracking attribute name means tracking is not pushed', () => {
    const result = buildProfileUpsert(
      makeSnapshot({ tracking: state('opted_out') }),
      { ...settings, trackingAttribute: '' },
      NOW,
    );
    expect(result).toMatchObject({ outcome: { kind: 'not_applicable' } });
    expect(result.skipped).toContainEqual({
      channel: 'tracking',
      decided: true,
      outcome: { kind: 'not_applicable', detail: 'Actito tracking attribute not configured (ACTITO_TRACKING_ATTRIBUTE)' },
    });
  });

  it.each([
    ['2025-05-31T10:20:30.123Z', 'actito', '2025-05-31 10:20:30'],
    ['2025-05-31T12:20:30+02:00', 'actito', '2025-05-31 10:20:30'],
    ['2025-05-31T10:20:30.123Z', 'iso', '2025-05-31T10:20:30.123Z'],
    [undefined, 'actito', '2025-06-01 12:00:00'],
    ['garbage', 'actito', '2025-06-01 12:00:00'],
  ] as const)('date %s as %s → %s', (moment, format, expected) => {
    expect(formatCollectionDate(moment, NOW, format)).toBe(expected);
  });
});

describe('Actito token (esp-contracts.md §3.1)', () => {
  it.each([
    [{ accessToken: 't', expiresIn: '900s' }, 840_000],
    [{ accessToken: 't', expiresIn: 300 }, 240_000],
    [{ accessToken: 't' }, 840_000],
  ])('%j lives %i ms', (body, lifetimeMs) => {
    expect(parseTokenResponse(body, 840_000)).toEqual({ accessToken: 't', lifetimeMs });
  });

  it.each([[{}], [{ accessToken: '' }], ['t'], [null]])('%j is no token', (body) => {
    expect(parseTokenResponse(body, 840_000)).toBeUndefined();
  });

  it('builds the profile path from the template', () => {
    expect(
      profilePath({
        profilePath: '/v4/entity/{entity}/table/{table}/profile',
        entity: 'acme',
        table: 'My Table',
      }),
    ).toBe('/v4/entity/acme/table/My%20Table/profile');
  });
});
