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
import { ipList, webhookAuthMode, webhookEndpointFrom, webhookSecrets } from '../kit/webhook-settings.js';
import type { OptimizelyCampaignSettings } from './optimizely-campaign.settings.js';

/**
 * Optimizely Campaign webhooks → opt_out events (esp-contracts.md §1.2: webhook types include
 * `unsubscribe` and `blocklist`). The rules every ESP's webhook follows are in ../kit/webhook-kit.ts.
 */

export const OPTIMIZELY_ESP = 'optimizely-campaign';
const OPTIMIZELY_SUBSCRIBE_TYPES = new Set(['singleoptin', 'doubleoptin', 'confirmedoptin']);

export interface OptimizelyWebhookSettings extends WebhookBaseSettings {
  optimizely: {
    /** OPTIMIZELY_RECIPIENT_ID: what the recipient id is. */
    recipientId: 'email' | 'externalId';
    /** OPTIMIZELY_MEDIA_TYPES: canonical channel → mediaType. */
    mediaTypes: Readonly<Record<string, string>>;
  };
}

const optimizelyTypeSchema = z.object({ type: text(100) });

/**
 * INFERENCE (payload schema not in the contract; as the simulator sends it):
 *   unsubscribe: {"type","clientId","recipientId","recipientListId","mailingId","mediaType","reason","created"}
 *   blocklist:   {"type","clientId","pattern" | "recipientId" | "address","reason","created"}
 * An optional `id` / `eventId` is used as the ESP's event id.
 */
const optimizelyEventSchema = z.object({
  type: text(100),
  id: idLike.optional(),
  eventId: idLike.optional(),
  clientId: idLike.nullish(),
  recipientId: text(320).optional(),
  pattern: text(320).optional(),
  address: text(320).optional(),
  recipientListId: idLike.nullish(),
  mailingId: idLike.nullish(),
  mediaType: z.string().trim().max(20).nullish(),
  reason: z.string().trim().max(500).nullish(),
  created: timestampField,
});

type OptimizelyEvent = z.infer<typeof optimizelyEventSchema>;

/**
 * Blocklist pattern → the address it names, or undefined for wildcards (`*`, `?`; `\*` `\?` are literals).
 * Laxer than the read-back's blocklistAddress (optimizely-campaign.readback.ts): a pattern that is not an
 * address is passed on here, and the identity check then rejects the delivery (400).
 */
export function blocklistAddress(pattern: string): string | undefined {
  if (/(^|[^\\])[*?]/.test(pattern)) return undefined;
  return pattern.replace(/\\([*?])/g, '$1');
}

/** Who and which channel an unsubscribe or blocklist item speaks for, or why it is ignored. */
type Target =
  | { contact: ContactIdentity; channel: string; identityField: string }
  | { ignore: 'wildcard_pattern' | 'channel_not_mapped' };

function targetOf(
  type: 'unsubscribe' | 'blocklist',
  e: OptimizelyEvent,
  prefix: string,
  settings: OptimizelyWebhookSettings,
  byMediaType: ReadonlyMap<string, string>,
): Target {
  if (type === 'blocklist') {
    const identityField =
      e.pattern !== undefined ? 'pattern' : e.address !== undefined ? 'address' : 'recipientId';
    const raw = e.pattern ?? e.address ?? e.recipientId;
    if (raw === undefined) throw new WebhookPayloadError([{ field: `${prefix}pattern`, rule: 'required' }]);
    const email = blocklistAddress(raw);
    if (email === undefined) return { ignore: 'wildcard_pattern' };
    // a blocklist entry is an address pattern: it blocks email
    return { contact: { email }, channel: 'email', identityField };
  }
  if (e.recipientId === undefined)
    throw new WebhookPayloadError([{ field: `${prefix}recipientId`, rule: 'required' }]);
  const contact: ContactIdentity =
    settings.optimizely.recipientId === 'email' ? { email: e.recipientId } : { externalId: e.recipientId };
  const mediaType = (e.mediaType ?? '').toUpperCase();
  // INFERENCE (as reconciliation, optimizely-campaign.readback.ts): GLOBAL (the default, where mail links and
  // the HTTP API unsubscribe) is an email unsubscribe.
  const mapped = mediaType === '' || mediaType === 'GLOBAL' ? 'email' : byMediaType.get(mediaType);
  if (mapped === undefined) return { ignore: 'channel_not_mapped' };
  return { contact, channel: mapped, identityField: 'recipientId' };
}

export function parseOptimizelyWebhook(body: unknown, settings: OptimizelyWebhookSettings): WebhookItem[] {
  const byMediaType = reverse(settings.optimizely.mediaTypes);
  return collect(body, settings.maxEvents, (item, prefix, index) => {
    const head = optimizelyTypeSchema.safeParse(item);
    if (!head.success) throw new WebhookPayloadError(problemsOf(head.error, prefix));
    const type = head.data.type;
    if (type !== 'unsubscribe' && type !== 'blocklist') {
      const reason = OPTIMIZELY_SUBSCRIBE_TYPES.has(type) ? 'resubscribe_ignored' : 'irrelevant_type';
      return [{ kind: 'ignored', type, reason, index }];
    }
    const parsed = optimizelyEventSchema.safeParse(item);
    if (!parsed.success) throw new WebhookPayloadError(problemsOf(parsed.error, prefix));
    const e = parsed.data;
    const espEventId = e.id ?? e.eventId;
    const target = targetOf(type, e, prefix, settings, byMediaType);
    if ('ignore' in target) return [{ kind: 'ignored', type, reason: target.ignore, index }];
    const { contact, channel, identityField } = target;
    if (!settings.channels.includes(channel))
      return [{ kind: 'ignored', type, reason: 'channel_not_configured', index }];
    const bad = checkIdentity(contact, () => `${prefix}${identityField}`);
    if (bad) throw new WebhookPayloadError([bad]);
    const idParts =
      espEventId !== undefined
        ? ['id', espEventId]
        : [
            type,
            e.clientId,
            identityField,
            e.pattern ?? e.address ?? e.recipientId,
            e.recipientListId,
            e.mediaType,
            e.mailingId,
            e.created,
          ];
    const event = toWireEvent(
      {
        eventId: webhookEventId(OPTIMIZELY_ESP, idParts),
        contact,
        channel,
        source: `esp:${OPTIMIZELY_ESP}`,
        moment: e.created,
        webhook: type,
        properties: {
          type: e.reason || type,
          webhookType: type,
          reason: e.reason ?? undefined,
          mediaType: e.mediaType ?? undefined,
          recipientListId: e.recipientListId ?? undefined,
          mailingId: e.mailingId ?? undefined,
          espEventId,
        },
      },
      settings.channels,
      prefix,
    );
    return [{ kind: 'opt_out', event }];
  });
}

export const optimizelyWebhookEnvSchema = z.object({
  WEBHOOK_SECRET_OPTIMIZELY: webhookSecrets
    .optional()
    .describe(
      'Secret of `POST /v1/webhooks/optimizely-campaign` (the keyAuth passphrase, basicAuth password or HMAC key per WEBHOOK_AUTH_OPTIMIZELY); comma-separate a new and an old one while rotating. Unset = the endpoint is disabled and answers 404.',
    ),
  // DOC esp-contracts.md §1.2: Optimizely webhooks authenticate with `authentication` none | basicAuth | keyAuth.
  WEBHOOK_AUTH_OPTIMIZELY: webhookAuthMode('key:X-Webhook-Key').describe(
    'How Optimizely Campaign webhooks authenticate: `key:<Header>` (keyAuth: the header carries the secret), `basic:<user>` (basicAuth, password = the secret) or `hmac` (X-Webhook-Timestamp + X-Webhook-Signature).',
  ),
  // DOC esp-contracts.md §1.2: webhooks are POSTed from 193.169.180.1. Needs the proxy's trustProxy setting when behind one.
  WEBHOOK_OPTIMIZELY_ALLOWED_IPS: ipList
    .optional()
    .describe(
      'Comma-separated client IPs allowed to call the Optimizely webhook (Optimizely sends from 193.169.180.1); unset = any IP.',
    ),
});

/** `POST /v1/webhooks/optimizely-campaign`. */
export const optimizelyWebhook: EspWebhook<OptimizelyCampaignSettings, undefined> = {
  endpoint: 'optimizely-campaign',
  envSchema: optimizelyWebhookEnvSchema,
  endpointConfig: (env) =>
    webhookEndpointFrom(env, {
      secret: 'WEBHOOK_SECRET_OPTIMIZELY',
      auth: 'WEBHOOK_AUTH_OPTIMIZELY',
      allowedIps: 'WEBHOOK_OPTIMIZELY_ALLOWED_IPS',
    }),
  parse: (body, base, s) =>
    parseOptimizelyWebhook(body, { ...base, optimizely: { recipientId: s.recipientId, mediaTypes: s.mediaTypes } }),
};
