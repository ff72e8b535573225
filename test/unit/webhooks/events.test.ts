import { describe, expect, it } from 'vitest';
import { parseActitoWebhook } from '../../../src/esp/actito/actito.webhook.js';
import { parseGenericWebhook } from '../../../src/esp/crossengage/crossengage.webhook.js';
import { parseEspTimestamp, webhookEventId } from '../../../src/esp/kit/webhook-kit.js';
import {
  blocklistAddress,
  parseOptimizelyWebhook,
} from '../../../src/esp/optimizely-campaign/optimizely-campaign.webhook.js';
import { type WebhookItem, WebhookPayloadError } from '../../../src/ingest/webhook-events.js';
import type { ActitoWebhookSettings } from '../../../src/esp/actito/actito.webhook.js';
import type { GenericWebhookSettings } from '../../../src/esp/crossengage/crossengage.webhook.js';
import type { OptimizelyWebhookSettings } from '../../../src/esp/optimizely-campaign/optimizely-campaign.webhook.js';

/** One settings object every parser below reads its part of. */
type WebhookParseSettings = OptimizelyWebhookSettings & ActitoWebhookSettings & GenericWebhookSettings;

const settings: WebhookParseSettings = {
  channels: ['email', 'sms', 'push'],
  maxEvents: 10,
  optimizely: { recipientId: 'email', mediaTypes: { email: 'EMAIL', sms: 'SMS', push: 'PUSH' } },
  actito: {
    uniqueKeyAttribute: 'emailAddress',
    marketingConsentChannel: 'email',
    subscriptions: { email: 'Newsletter', sms: 'SMS_News' },
    trackingAttribute: 'trackingConsent',
  },
  generic: {
    esp: 'crossengage',
    events: ['mail.unsubscribe', 'message.unsubscribed', 'Message Unsubscribed'],
    channelTypes: { email: 'MAIL', sms: 'SMS', push: 'PUSH_NOTIFICATION' },
  },
};

const optOuts = (items: WebhookItem[]) => items.flatMap((i) => (i.kind === 'opt_out' ? [i.event] : []));
const ignored = (items: WebhookItem[]) => items.flatMap((i) => (i.kind === 'ignored' ? [i.reason] : []));
const problems = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof WebhookPayloadError) return err.problems;
    throw err;
  }
  throw new Error('expected a WebhookPayloadError');
};

const optimizelyUnsubscribe = {
  type: 'unsubscribe',
  clientId: '200100',
  recipientId: 'Jo@Example.com',
  recipientListId: '100200300',
  mailingId: null,
  mediaType: 'GLOBAL',
  reason: 'list_unsubscribe',
  created: '2026-11-20T10:15:00.000Z',
};

describe('Optimizely Campaign webhooks', () => {
  it('turns an unsubscribe into an email opt_out with source esp:optimizely-campaign and the ESP moment', () => {
    const [event, ...rest] = optOuts(parseOptimizelyWebhook(optimizelyUnsubscribe, settings));
    expect(rest).toEqual([]);
    expect(event).toEqual({
      eventId: expect.stringMatching(/^wh:optimizely-campaign:[0-9a-f]{40}$/),
      contact: { email: 'Jo@Example.com' },
      kind: 'marketing',
      channel: 'email',
      value: 'opt_out',
      source: 'esp:optimizely-campaign',
      force: false,
      moment: '2026-11-20T10:15:00.000Z',
      way: { collected: 'esp_webhook', webhook: 'unsubscribe' },
      properties: {
        type: 'list_unsubscribe',
        webhookType: 'unsubscribe',
        reason: 'list_unsubscribe',
        mediaType: 'GLOBAL',
        recipientListId: '100200300',
      },
    });
  });

  it('derives the same eventId on every delivery, another one for another unsubscribe', () => {
    const a = optOuts(parseOptimizelyWebhook(optimizelyUnsubscribe, settings))[0];
    const b = optOuts(parseOptimizelyWebhook({ ...optimizelyUnsubscribe }, settings))[0];
    const c = optOuts(
      parseOptimizelyWebhook({ ...optimizelyUnsubscribe, created: '2026-11-21T10:15:00Z' }, settings),
    )[0];
    expect(a?.eventId).toBe(b?.eventId);
    expect(c?.eventId).not.toBe(a?.eventId);
    const withId = optOuts(parseOptimizelyWebhook({ ...optimizelyUnsubscribe, id: 'evt-9' }, settings))[0];
    expect(withId?.eventId).toBe(webhookEventId('optimizely-campaign', ['id', 'evt-9']));
  });

  it('maps media types to canonical channels; unmapped ones are ignored', () => {
    expect(
      optOuts(parseOptimizelyWebhook({ ...optimizelyUnsubscribe, mediaType: 'SMS' }, settings))[0]?.channel,
    ).toBe('sms');
    expect(
      optOuts(parseOptimizelyWebhook({ ...optimizelyUnsubscribe, mediaType: 'PUSH' }, settings))[0]?.channel,
    ).toBe('push');
    expect(ignored(parseOptimizelyWebhook({ ...optimizelyUnsubscribe, mediaType: 'FAX' }, settings))).toEqual(
      ['channel_not_mapped'],
    );
    expect(
      ignored(
        parseOptimizelyWebhook(
          { ...optimizelyUnsubscribe, mediaType: 'SMS' },
          { ...settings, channels: ['email'] },
        ),
      ),
    ).toEqual(['channel_not_configured']);
  });

  it('uses externalIds when the recipient id is one', () => {
    const s = { ...settings, optimizely: { ...settings.optimizely, recipientId: 'externalId' as const } };
    expect(
      optOuts(parseOptimizelyWebhook({ ...optimizelyUnsubscribe, recipientId: 'u-1' }, s))[0]?.contact,
    ).toEqual({ externalId: 'u-1' });
  });

  it('turns an exact blocklist entry into an email opt_out; wildcards are ignored', () => {
    const body = {
      type: 'blocklist',
      pattern: 'jo@example.com',
      reason: 'complaint',
      created: '2026-11-20T10:15:00Z',
    };
    const [event] = optOuts(parseOptimizelyWebhook(body, settings));
    expect(event).toMatchObject({
      contact: { email: 'jo@example.com' },
      channel: 'email',
      properties: { type: 'complaint', webhookType: 'blocklist' },
    });
    expect(ignored(parseOptimizelyWebhook({ ...body, pattern: '*@example.com' }, settings))).toEqual([
      'wildcard_pattern',
    ]);
    expect(blocklistAddress('a\\*b@example.com')).toBe('a*b@example.com');
  });

  it('ignores other types and never re-subscribes', () => {
    for (const type of ['open', 'click', 'bounce', 'spamcomplaint', 'filteredbyblocklist']) {
      expect(parseOptimizelyWebhook({ type, whatever: 1 }, settings)).toEqual([
        { kind: 'ignored', type, reason: 'irrelevant_type', index: 0 },
      ]);
    }
    for (const type of ['singleoptin', 'doubleoptin', 'confirmedoptin']) {
      expect(ignored(parseOptimizelyWebhook({ type, recipientId: 'jo@example.com' }, settings))).toEqual([
        'resubscribe_ignored',
      ]);
    }
  });

  it('names the bad field of a malformed item; nothing else is returned', () => {
    expect(
      problems(() => parseOptimizelyWebhook({ ...optimizelyUnsubscribe, created: 'yesterday' }, settings)),
    ).toEqual([{ field: 'created', rule: expect.stringContaining('ISO-8601') }]);
    expect(
      problems(() => parseOptimizelyWebhook({ ...optimizelyUnsubscribe, recipientId: undefined }, settings)),
    ).toEqual([{ field: 'recipientId', rule: 'required' }]);
    expect(
      problems(() =>
        parseOptimizelyWebhook({ ...optimizelyUnsubscribe, recipientId: 'not-an-email' }, settings),
      ),
    ).toEqual([{ field: 'recipientId', rule: 'is not a plausible address' }]);
    expect(problems(() => parseOptimizelyWebhook({ recipientId: 'x' }, settings))[0]?.field).toBe('type');
    expect(problems(() => parseOptimizelyWebhook('hello', settings))).toEqual([
      { field: '(body)', rule: expect.any(String) },
    ]);
    expect(
      problems(() =>
        parseOptimizelyWebhook([optimizelyUnsubscribe, { ...optimizelyUnsubscribe, created: 5 }], settings),
      ),
    ).toEqual([{ field: '1.created', rule: expect.any(String) }]);
  });

  it('takes batches (array or {"events":[…]}) up to the limit', () => {
    expect(
      optOuts(
        parseOptimizelyWebhook(
          { events: [optimizelyUnsubscribe, { ...optimizelyUnsubscribe, mediaType: 'SMS' }] },
          settings,
        ),
      ),
    ).toHaveLength(2);
    expect(
      problems(() => parseOptimizelyWebhook(Array(11).fill(optimizelyUnsubscribe), settings))[0]?.rule,
    ).toMatch(/at most 10/);
    expect(problems(() => parseOptimizelyWebhook([], settings))[0]?.rule).toMatch(/no events/);
  });
});

const actitoSubscription = {
  eventType: 'UPDATED_SUBSCRIPTION',
  entity: 'sim',
  profileTable: 'contacts',
  moment: '2026-11-20T10:15:00.000Z',
  profileId: 7,
  uniqueIds: { emailAddress: 'jo@example.com' },
  subscriptions: [{ name: 'Newsletter', subscribe: false }],
};

describe('Actito webhooks', () => {
  it('turns a withdrawn subscription into an opt_out of its mapped channel', () => {
    const [event] = optOuts(parseActitoWebhook(actitoSubscription, settings));
    expect(event).toMatchObject({
      eventId: expect.stringMatching(/^wh:actito:[0-9a-f]{40}$/),
      contact: { email: 'jo@example.com' },
      kind: 'marketing',
      channel: 'email',
      value: 'opt_out',
      source: 'esp:actito',
      moment: '2026-11-20T10:15:00.000Z',
      properties: { type: 'subscription:Newsletter', webhookType: 'UPDATED_SUBSCRIPTION', profileId: '7' },
    });
    const again = optOuts(parseActitoWebhook(structuredClone(actitoSubscription), settings))[0];
    expect(again?.eventId).toBe(event?.eventId);
  });

  it('ignores re-subscriptions and unmapped subscriptions', () => {
    const items = parseActitoWebhook(
      {
        ...actitoSubscription,
        subscriptions: [
          { name: 'Newsletter', subscribe: true },
          { name: 'Other', subscribe: false },
        ],
      },
      settings,
    );
    expect(optOuts(items)).toEqual([]);
    expect(ignored(items)).toEqual(['resubscribe_ignored', 'subscription_not_mapped']);
  });

  it('turns marketingConsent=false (UPDATE) into an opt_out, tracking refusal into a tracking opt_out; consent=true is ignored', () => {
    const update = {
      ...actitoSubscription,
      eventType: 'UPDATE',
      subscriptions: undefined,
      attributes: [
        { name: 'marketingConsent', value: false },
        { name: 'trackingConsent', value: false },
      ],
      moment: '2026-11-20 10:15:00',
    };
    const events = optOuts(parseActitoWebhook(update, settings));
    expect(events.map((e) => [e.kind, e.channel, e.properties?.['type'], e.moment])).toEqual([
      ['marketing', 'email', 'marketing_consent', '2026-11-20T10:15:00.000Z'],
      ['tracking', undefined, 'tracking_consent', '2026-11-20T10:15:00.000Z'],
    ]);
    const consentGiven = { ...update, attributes: [{ name: 'marketingConsent', value: true }] };
    expect(ignored(parseActitoWebhook(consentGiven, settings))).toEqual(['resubscribe_ignored']);
    expect(
      ignored(parseActitoWebhook({ ...update, attributes: [{ name: 'firstName', value: 'Jo' }] }, settings)),
    ).toEqual(['nothing_withdrawn']);
  });

  it('ignores CREATE and other event types', () => {
    expect(ignored(parseActitoWebhook({ eventType: 'CREATE' }, settings))).toEqual(['irrelevant_type']);
    expect(ignored(parseActitoWebhook({ eventType: 'UPDATED_SEGMENT' }, settings))).toEqual([
      'irrelevant_type',
    ]);
  });

  it('needs the unique key and a moment', () => {
    expect(problems(() => parseActitoWebhook({ ...actitoSubscription, uniqueIds: {} }, settings))).toEqual([
      { field: 'uniqueIds.emailAddress', rule: expect.stringContaining('required') },
    ]);
    expect(
      problems(() => parseActitoWebhook({ ...actitoSubscription, moment: undefined }, settings)),
    ).toEqual([{ field: 'moment', rule: 'required' }]);
  });
});

const generic = {
  id: 'ce-evt-1',
  event: 'mail.unsubscribe',
  timestamp: '2026-11-20T10:15:00Z',
  user: { externalId: 'u-1', email: 'jo@example.com', businessUnit: 'shop-de' },
  properties: { reason: 'list_unsubscribe', campaignId: 'c-9', secret: { nested: true } },
};

describe('generic (CrossEngage-style) webhooks', () => {
  it('turns mail.unsubscribe into an email opt_out with source esp:<WEBHOOK_GENERIC_ESP>', () => {
    const [event] = optOuts(parseGenericWebhook(generic, settings));
    expect(event).toMatchObject({
      eventId: webhookEventId('crossengage', ['id', 'ce-evt-1']),
      contact: { externalId: 'u-1', email: 'jo@example.com', businessUnit: 'shop-de' },
      channel: 'email',
      source: 'esp:crossengage',
      moment: '2026-11-20T10:15:00.000Z',
      properties: {
        type: 'list_unsubscribe',
        webhookType: 'mail.unsubscribe',
        campaignId: 'c-9',
        espEventId: 'ce-evt-1',
      },
    });
  });

  it('maps CrossEngage channel types; "Message Unsubscribed" needs a channel', () => {
    const sms = {
      ...generic,
      event: 'Message Unsubscribed',
      'channel.type': 'SMS',
      user: { phone: '+49 151 1234 5678' },
    };
    expect(optOuts(parseGenericWebhook(sms, settings))[0]).toMatchObject({
      channel: 'sms',
      contact: { phone: '+49 151 1234 5678' },
    });
    expect(
      optOuts(parseGenericWebhook({ ...generic, channel: 'PUSH_NOTIFICATION' }, settings))[0]?.channel,
    ).toBe('push');
    expect(optOuts(parseGenericWebhook({ ...generic, channel: 'ALL' }, settings))[0]?.channel).toBe('all');
    expect(
      problems(() => parseGenericWebhook({ ...generic, event: 'message.unsubscribed' }, settings)),
    ).toEqual([{ field: 'channel', rule: 'required for message.unsubscribed' }]);
    expect(problems(() => parseGenericWebhook({ ...generic, channel: 'FAX' }, settings))[0]?.field).toBe(
      'channel',
    );
  });

  it('ignores other events (no opt-ins from webhooks)', () => {
    expect(ignored(parseGenericWebhook({ ...generic, event: 'Opt In' }, settings))).toEqual([
      'irrelevant_type',
    ]);
    expect(ignored(parseGenericWebhook({ event: 'mail.open' }, settings))).toEqual(['irrelevant_type']);
  });

  it('requires an event id and an identity', () => {
    expect(problems(() => parseGenericWebhook({ ...generic, id: undefined }, settings))).toEqual([
      { field: 'id', rule: expect.stringContaining('required') },
    ]);
    expect(
      problems(() => parseGenericWebhook({ ...generic, user: { businessUnit: 'x' } }, settings)),
    ).toEqual([{ field: 'user', rule: 'needs an externalId, an email or a phone' }]);
    expect(problems(() => parseGenericWebhook({ ...generic, user: { email: 'nope' } }, settings))).toEqual([
      { field: 'user.email', rule: 'is not a plausible address' },
    ]);
  });
});

describe('ESP timestamps', () => {
  it('reads ISO with a zone, Actito dates (UTC) and epochs; refuses the rest', () => {
    expect(parseEspTimestamp('2026-11-20T10:15:00+01:00')).toBe('2026-11-20T09:15:00.000Z');
    expect(parseEspTimestamp('2026-11-20 10:15:00')).toBe('2026-11-20T10:15:00.000Z');
    expect(parseEspTimestamp(1_795_000_000)).toBe(new Date(1_795_000_000_000).toISOString());
    expect(parseEspTimestamp(1_795_000_000_123)).toBe(new Date(1_795_000_000_123).toISOString());
    expect(parseEspTimestamp('2026-11-20T10:15:00')).toBeUndefined();
    expect(parseEspTimestamp('1899-01-01T00:00:00Z')).toBeUndefined();
    expect(parseEspTimestamp(undefined)).toBeUndefined();
    expect(parseEspTimestamp({})).toBeUndefined();
  });
});
