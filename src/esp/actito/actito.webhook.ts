import { z } from 'zod';
import type { ContactIdentity } from '../../domain/index.js';
import {
  checkIdentity,
  collect,
  type IgnoreReason,
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
import { webhookAuthMode, webhookEndpointFrom, webhookSecrets } from '../kit/webhook-settings.js';
import type { ActitoSettings } from './actito.settings.js';

/**
 * Actito webhooks → opt_out events (esp-contracts.md §3.4: profile-table webhooks,
 * UPDATED_SUBSCRIPTION). The rules every ESP's webhook follows are in ../kit/webhook-kit.ts.
 */

export const ACTITO_ESP = 'actito';
const MARKETING_CONSENT = 'marketingConsent';

export interface ActitoWebhookSettings extends WebhookBaseSettings {
  actito: {
    /** ACTITO_UNIQUE_KEY_ATTRIBUTE: the attribute holding the email. */
    uniqueKeyAttribute: string;
    /** ACTITO_MARKETING_CONSENT_CHANNEL: channel `marketingConsent` speaks for; '' = none. */
    marketingConsentChannel: string;
    /** ACTITO_SUBSCRIPTIONS: canonical channel → subscription name. */
    subscriptions: Readonly<Record<string, string>>;
    /** ACTITO_TRACKING_ATTRIBUTE; '' = none. */
    trackingAttribute: string;
  };
}

const actitoTypeSchema = z.object({ eventType: text(100) });

/**
 * INFERENCE ("only the attributes supplied in the triggering operation, plus the unique ids"; as the simulator):
 *   {"eventType":"UPDATED_SUBSCRIPTION"|"UPDATE"|"CREATE","entity","profileTable","moment","profileId",
 *    "uniqueIds":{"emailAddress":…},"subscriptions":[{"name","subscribe"}] | "attributes":[{"name","value"}]}
 */
const actitoEventSchema = z.object({
  eventType: text(100),
  id: idLike.optional(),
  eventId: idLike.optional(),
  entity: idLike.nullish(),
  profileTable: idLike.nullish(),
  profileId: idLike.nullish(),
  moment: timestampField,
  uniqueIds: z.record(z.string(), z.unknown()).optional(),
  subscriptions: z
    .array(z.object({ name: text(200), subscribe: z.boolean() }))
    .max(200)
    .optional(),
  attributes: z
    .array(z.object({ name: text(200), value: z.unknown() }))
    .max(500)
    .optional(),
});

type ActitoEvent = z.infer<typeof actitoEventSchema>;

interface Withdrawal {
  channel?: string;
  kind: 'marketing' | 'tracking';
  what: string;
}

/** What one item withdraws on a configured channel, and what it says that is ignored (in that order). */
function withdrawalsOf(
  e: ActitoEvent,
  attributes: ReadonlyMap<string, unknown>,
  settings: ActitoWebhookSettings,
  bySubscription: ReadonlyMap<string, string>,
  ignoredItem: (reason: IgnoreReason) => WebhookItem,
): { usable: Withdrawal[]; ignored: WebhookItem[] } {
  const s = settings.actito;
  const withdrawals: Withdrawal[] = [];
  const ignored: WebhookItem[] = [];
  for (const sub of e.subscriptions ?? []) {
    if (sub.subscribe) {
      ignored.push(ignoredItem('resubscribe_ignored'));
      continue;
    }
    const channel = bySubscription.get(sub.name);
    if (channel === undefined) ignored.push(ignoredItem('subscription_not_mapped'));
    else withdrawals.push({ channel, kind: 'marketing', what: `subscription:${sub.name}` });
  }
  const consent = attributes.get(MARKETING_CONSENT);
  if (consent === false || consent === 'false') {
    if (s.marketingConsentChannel)
      withdrawals.push({
        channel: s.marketingConsentChannel,
        kind: 'marketing',
        what: 'marketing_consent',
      });
    else ignored.push(ignoredItem('channel_not_mapped'));
  } else if (consent === true || consent === 'true') {
    ignored.push(ignoredItem('resubscribe_ignored'));
  }
  const tracking = s.trackingAttribute ? attributes.get(s.trackingAttribute) : undefined;
  if (tracking === false || tracking === 'false') withdrawals.push({ kind: 'tracking', what: 'tracking_consent' });

  const usable = withdrawals.filter((w) => w.kind === 'tracking' || settings.channels.includes(w.channel ?? ''));
  for (const w of withdrawals) {
    if (!usable.includes(w)) ignored.push(ignoredItem('channel_not_configured'));
  }
  return { usable, ignored };
}

export function parseActitoWebhook(body: unknown, settings: ActitoWebhookSettings): WebhookItem[] {
  const bySubscription = reverse(settings.actito.subscriptions);
  return collect(body, settings.maxEvents, (item, prefix, index) => {
    const head = actitoTypeSchema.safeParse(item);
    if (!head.success) throw new WebhookPayloadError(problemsOf(head.error, prefix));
    const type = head.data.eventType;
    // CREATE is a new profile, not a withdrawal; UPDATED_SEGMENT and others say nothing about consent.
    if (type !== 'UPDATED_SUBSCRIPTION' && type !== 'UPDATE')
      return [{ kind: 'ignored', type, reason: 'irrelevant_type', index }];
    const parsed = actitoEventSchema.safeParse(item);
    if (!parsed.success) throw new WebhookPayloadError(problemsOf(parsed.error, prefix));
    const e = parsed.data;
    const attributes = new Map((e.attributes ?? []).map((a) => [a.name, a.value]));
    const { usable, ignored } = withdrawalsOf(e, attributes, settings, bySubscription, (reason) => ({
      kind: 'ignored',
      type,
      reason,
      index,
    }));
    if (usable.length === 0) {
      return ignored.length > 0 ? ignored : [{ kind: 'ignored', type, reason: 'nothing_withdrawn', index }];
    }

    const keyAttr = settings.actito.uniqueKeyAttribute;
    const rawKey = e.uniqueIds?.[keyAttr] ?? attributes.get(keyAttr);
    if (typeof rawKey !== 'string' || rawKey.trim() === '') {
      throw new WebhookPayloadError([
        { field: `${prefix}uniqueIds.${keyAttr}`, rule: 'required (the email the profile is keyed by)' },
      ]);
    }
    // The adapter keys Actito profiles by email (ACTITO_UNIQUE_KEY_ATTRIBUTE holds the email).
    const contact: ContactIdentity = { email: rawKey };
    const bad = checkIdentity(contact, () => `${prefix}uniqueIds.${keyAttr}`);
    if (bad) throw new WebhookPayloadError([bad]);
    const espEventId = e.id ?? e.eventId;
    const events: WebhookItem[] = usable.map((w) => ({
      kind: 'opt_out',
      event: toWireEvent(
        {
          eventId: webhookEventId(
            ACTITO_ESP,
            espEventId !== undefined
              ? ['id', espEventId, w.what]
              : [
                  type,
                  e.entity,
                  e.profileTable,
                  e.profileId ?? rawKey.trim().toLowerCase(),
                  e.moment,
                  w.what,
                ],
          ),
          contact,
          kind: w.kind,
          ...(w.channel !== undefined && w.kind === 'marketing' ? { channel: w.channel } : {}),
          source: `esp:${ACTITO_ESP}`,
          moment: e.moment,
          webhook: type,
          properties: {
            type: w.what,
            webhookType: type,
            profileId: e.profileId ?? undefined,
            espEventId,
          },
        },
        settings.channels,
        prefix,
      ),
    }));
    return [...events, ...ignored];
  });
}

export const actitoWebhookEnvSchema = z.object({
  // NOT FOUND in esp-contracts.md §3.4: how Actito authenticates webhooks; INFERENCE: our HMAC scheme, configurable.
  WEBHOOK_SECRET_ACTITO: webhookSecrets
    .optional()
    .describe(
      'Secret of `POST /v1/webhooks/actito` (HMAC key by default); comma-separate new and old while rotating. Unset = the endpoint is disabled and answers 404.',
    ),
  WEBHOOK_AUTH_ACTITO: webhookAuthMode('hmac').describe(
    'How Actito webhooks authenticate: `hmac`, `key:<Header>` or `basic:<user>` (Actito documents no scheme).',
  ),
});

/** `POST /v1/webhooks/actito`. */
export const actitoWebhook: EspWebhook<ActitoSettings, undefined> = {
  endpoint: 'actito',
  envSchema: actitoWebhookEnvSchema,
  endpointConfig: (env) => webhookEndpointFrom(env, { secret: 'WEBHOOK_SECRET_ACTITO', auth: 'WEBHOOK_AUTH_ACTITO' }),
  parse: (body, base, s) =>
    parseActitoWebhook(body, {
      ...base,
      actito: {
        uniqueKeyAttribute: s.uniqueKeyAttribute,
        marketingConsentChannel: s.marketingConsentChannel,
        subscriptions: s.subscriptions,
        trackingAttribute: s.trackingAttribute,
      },
    }),
};
