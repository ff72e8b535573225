import { z } from 'zod';
import type { ContactIdentity } from '../../domain/index.js';
import {
  checkIdentity,
  collect,
  idLike,
  problemsOf,
  reverse,
  text,
  timestampField,
  type WebhookBaseSettings,
  type WebhookItem,
  WebhookPayloadError,
  toWireEvent,
  webhookEventId,
} from '../kit/webhook-kit.js';
import type { EspWebhook } from '../kit/esp-module.js';
import { commaList, webhookAuthMode, webhookEndpointFrom, webhookSecrets } from '../kit/webhook-settings.js';
import type { CrossEngageSettings } from './crossengage.settings.js';

/**
 * CrossEngage-style webhooks → opt_out events (esp-contracts.md §2.2: `mail.unsubscribe` /
 * "Message Unsubscribed"), served at `POST /v1/webhooks/generic`: WEBHOOK_GENERIC_ESP may name
 * another sender that uses this format. The rules every ESP's webhook follows are in ../kit/webhook-kit.ts.
 */

export interface GenericWebhookSettings extends WebhookBaseSettings {
  generic: {
    esp: string;
    /** Event names meaning "unsubscribed". */
    events: readonly string[];
    /** CROSSENGAGE_CHANNEL_TYPES: canonical channel → channel type (MAIL, SMS, PUSH_NOTIFICATION…). */
    channelTypes: Readonly<Record<string, string>>;
  };
}

/**
 * Our documented format for senders without a webhook format of their own (INFERENCE; CrossEngage's
 * outbound event JSON is not in the contract):
 *   {"id":"<event id>","event":"mail.unsubscribe","timestamp":"2026-11-20T10:15:00Z",
 *    "channel":"MAIL" (or "channel.type"; CrossEngage channel type or canonical name; optional for mail.*),
 *    "user":{"externalId"?,"email"?,"businessUnit"?,"phone"?},"properties":{"reason"?,…}}
 */
const genericEventSchema = z.object({
  id: idLike.optional(),
  eventId: idLike.optional(),
  event: text(200),
  timestamp: timestampField,
  channel: text(50).optional(),
  'channel.type': text(50).optional(),
  user: z.object({
    externalId: text(200).optional(),
    email: text(320).optional(),
    businessUnit: text(100).optional(),
    phone: text(32).optional(),
  }),
  properties: z.record(z.string(), z.unknown()).optional(),
});

export function parseGenericWebhook(body: unknown, settings: GenericWebhookSettings): WebhookItem[] {
  const g = settings.generic;
  const byType = reverse(g.channelTypes);
  const wanted = new Set(g.events);
  return collect(body, settings.maxEvents, (item, prefix, index) => {
    const head = z.object({ event: text(200) }).safeParse(item);
    if (!head.success) throw new WebhookPayloadError(problemsOf(head.error, prefix));
    const type = head.data.event;
    if (!wanted.has(type)) return [{ kind: 'ignored', type, reason: 'irrelevant_type', index }];
    const parsed = genericEventSchema.safeParse(item);
    if (!parsed.success) throw new WebhookPayloadError(problemsOf(parsed.error, prefix));
    const e = parsed.data;
    const espEventId = e.id ?? e.eventId;
    if (espEventId === undefined)
      throw new WebhookPayloadError([{ field: `${prefix}id`, rule: "required (the sender's event id)" }]);
    const rawChannel = e['channel.type'] ?? e.channel;
    const channelField = e['channel.type'] !== undefined ? 'channel.type' : 'channel';
    let channel: string | undefined;
    if (rawChannel === undefined) {
      if (!/^mail\./i.test(type))
        throw new WebhookPayloadError([{ field: `${prefix}channel`, rule: `required for ${type}` }]);
      channel = 'email';
    } else if (rawChannel.toUpperCase() === 'ALL') {
      channel = 'all';
    } else {
      channel = settings.channels.includes(rawChannel) ? rawChannel : byType.get(rawChannel.toUpperCase());
      if (channel === undefined) {
        throw new WebhookPayloadError([
          {
            field: `${prefix}${channelField}`,
            rule: `unknown channel; use ${[...byType.keys(), ...settings.channels].join(', ')}`,
          },
        ]);
      }
    }
    if (channel !== 'all' && !settings.channels.includes(channel)) {
      return [{ kind: 'ignored', type, reason: 'channel_not_configured', index }];
    }
    const contact: ContactIdentity = {};
    for (const k of ['externalId', 'email', 'businessUnit', 'phone'] as const)
      if (e.user[k] !== undefined) contact[k] = e.user[k];
    const bad = checkIdentity(contact, (f) => `${prefix}user${f === 'identity' ? '' : `.${f}`}`);
    if (bad) throw new WebhookPayloadError([bad]);
    const reason = typeof e.properties?.['reason'] === 'string' ? e.properties['reason'] : undefined;
    const scalar = (key: string): string | number | undefined => {
      const v = e.properties?.[key];
      return typeof v === 'string' || typeof v === 'number' ? v : undefined;
    };
    const event = toWireEvent(
      {
        eventId: webhookEventId(g.esp, ['id', espEventId]),
        contact,
        channel,
        source: `esp:${g.esp}`,
        moment: e.timestamp,
        webhook: type,
        properties: {
          type: reason || type,
          webhookType: type,
          reason,
          messageId: scalar('messageId'),
          campaignId: scalar('campaignId'),
          espEventId,
        },
      },
      settings.channels,
      prefix,
    );
    return [{ kind: 'opt_out', event }];
  });
}

export const genericWebhookEnvSchema = z.object({
  WEBHOOK_SECRET_GENERIC: webhookSecrets
    .optional()
    .describe(
      'Secret of `POST /v1/webhooks/generic` (CrossEngage-style `mail.unsubscribe` events; HMAC key by default). Unset = the endpoint is disabled and answers 404.',
    ),
  WEBHOOK_AUTH_GENERIC: webhookAuthMode('hmac').describe(
    'How the generic webhook authenticates: `hmac`, `key:<Header>` or `basic:<user>`.',
  ),
  WEBHOOK_GENERIC_ESP: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,47}$/, 'lower-case ESP name, e.g. crossengage')
    .default('crossengage')
    .describe('ESP the generic webhook speaks for: its events get the source `esp:<name>`.'),
  // INFERENCE per esp-contracts.md §2.2: `mail.unsubscribe` is the legacy name of `message.unsubscribed` ("Message Unsubscribed").
  WEBHOOK_GENERIC_EVENTS: z
    .string()
    .min(1)
    .default('mail.unsubscribe,message.unsubscribed,Message Unsubscribed')
    .describe(
      'Comma-separated event names of the generic webhook that mean "unsubscribed"; others are ignored (202).',
    ),
});

/** What the generic endpoint reads from its own variables: whom it speaks for, which events unsubscribe. */
export interface GenericWebhookOptions {
  readonly esp: string;
  readonly events: readonly string[];
}

/** `POST /v1/webhooks/generic`: CrossEngage's format, which WEBHOOK_GENERIC_ESP may point at another sender. */
export const genericWebhook: EspWebhook<CrossEngageSettings, GenericWebhookOptions> = {
  endpoint: 'generic',
  envSchema: genericWebhookEnvSchema,
  endpointConfig: (env) => ({
    ...webhookEndpointFrom(env, { secret: 'WEBHOOK_SECRET_GENERIC', auth: 'WEBHOOK_AUTH_GENERIC' }),
    options: { esp: String(env['WEBHOOK_GENERIC_ESP']), events: commaList(env['WEBHOOK_GENERIC_EVENTS']) },
  }),
  parse: (body, base, s, endpoint) =>
    parseGenericWebhook(body, { ...base, generic: { ...endpoint.options, channelTypes: s.channelTypes } }),
};
