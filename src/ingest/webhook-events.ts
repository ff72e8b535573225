import { createHash } from 'node:crypto';
import { z } from 'zod';
import { consentEventSchema, describeZodIssues, type WireConsentEvent } from '../contracts/consent-event.js';
import { type ContactIdentity, IdentityError, normaliseIdentity } from '../domain/index.js';

/**
 * ESP webhook payloads → opt_out consent events (product.md §4 last paragraph).
 *
 * Rules shared by every ESP:
 * - Only unsubscribes become events (value `opt_out`, source `esp:<name>`, moment = the ESP's
 *   timestamp). Subscribes, re-subscribes and every other type are *ignored* (202), never turned
 *   into an opt_in: a webhook never re-subscribes anyone.
 * - The eventId is derived deterministically from the ESP's event id when the payload has one, else
 *   from the fields that identify the ESP-side event (who, channel, the ESP's timestamp, type), so a
 *   redelivery is a `duplicate` and the event body is identical on every delivery.
 * - `properties.type` is the ESP's own reason/type (as reconciliation's RemoteSuppression.type);
 *   `properties.webhookType` the webhook's event type.
 * - A malformed relevant item throws WebhookPayloadError naming each bad field; nothing is stored.
 *
 * The payload schemas are INFERENCE (the vendors' webhook JSON is not in esp-contracts.md); they
 * follow the simulators (src/simulators/<esp>/) and are lenient about extra fields.
 */

export interface Problem {
  field: string;
  rule: string;
}

export class WebhookPayloadError extends Error {
  constructor(readonly problems: readonly Problem[]) {
    super(problems.map((p) => `${p.field}: ${p.rule}`).join('; '));
    this.name = 'WebhookPayloadError';
  }
}

export type WebhookItem =
  | { kind: 'opt_out'; event: WireConsentEvent }
  | { kind: 'ignored'; type: string; reason: IgnoreReason; index: number };

export type IgnoreReason =
  | 'irrelevant_type'
  | 'resubscribe_ignored'
  | 'channel_not_mapped'
  | 'channel_not_configured'
  | 'subscription_not_mapped'
  | 'wildcard_pattern'
  | 'nothing_withdrawn';

export interface WebhookParseSettings {
  /** Canonical channels (CHANNELS). */
  channels: readonly string[];
  maxEvents: number;
  optimizely: {
    /** OPTIMIZELY_RECIPIENT_ID: what the recipient id is. */
    recipientId: 'email' | 'externalId';
    /** OPTIMIZELY_MEDIA_TYPES: canonical channel → mediaType. */
    mediaTypes: Readonly<Record<string, string>>;
  };
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
  generic: {
    esp: string;
    /** Event names meaning "unsubscribed". */
    events: readonly string[];
    /** CROSSENGAGE_CHANNEL_TYPES: canonical channel → channel type (MAIL, SMS, PUSH_NOTIFICATION…). */
    channelTypes: Readonly<Record<string, string>>;
  };
}

/** `wh:<esp>:<40 hex>`: the same ESP event gives the same id on every delivery. */
export function webhookEventId(esp: string, parts: readonly (string | number | null | undefined)[]): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([esp, ...parts.map((p) => (p === undefined ? null : p))]))
    .digest('hex')
    .slice(0, 40);
  return `wh:${esp}:${digest}`;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

const MIN_TIME = Date.UTC(2000, 0, 1);
const MAX_TIME = Date.UTC(2100, 0, 1);

/**
 * ESP timestamps → ISO-8601 UTC: ISO with a zone, `yyyy-MM-dd HH:mm:ss` (Actito's format, read as
 * UTC; INFERENCE per esp-contracts.md §3.3), or epoch seconds / milliseconds.
 */
export function parseEspTimestamp(value: unknown): string | undefined {
  let ms: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) {
    ms = value < 1e11 ? value * 1000 : value;
  } else if (typeof value === 'string') {
    const s = value.trim();
    if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/i.test(s)) {
      ms = Date.parse(s.replace(' ', 'T'));
    } else if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(s)) {
      ms = Date.parse(`${s.replace(' ', 'T')}Z`);
    } else if (/^\d{9,13}$/.test(s)) {
      const n = Number(s);
      ms = n < 1e11 ? n * 1000 : n;
    }
  }
  if (ms === undefined || !Number.isFinite(ms) || ms < MIN_TIME || ms > MAX_TIME) return undefined;
  return new Date(ms).toISOString();
}

const timestampField = z.unknown().transform((v, ctx) => {
  const iso = parseEspTimestamp(v);
  if (iso === undefined) {
    ctx.addIssue({
      code: 'custom',
      message:
        v === undefined
          ? 'required'
          : 'must be an ISO-8601 date-time with a zone, yyyy-MM-dd HH:mm:ss or epoch',
    });
    return z.NEVER;
  }
  return iso;
});

const idLike = z.union([z.string().trim().min(1).max(200), z.number().int().nonnegative()]).transform(String);
const text = (max: number) => z.string().trim().min(1).max(max);

function problemsOf(error: z.ZodError, prefix: string): Problem[] {
  return describeZodIssues(error).map((p) => ({
    field: `${prefix}${p.field === '(body)' ? '' : p.field}`.replace(/\.$/, '') || '(body)',
    rule: p.rule,
  }));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A delivery is one object, an array of objects, or `{"events": [...]}`. */
function itemsOf(body: unknown, maxEvents: number): { item: unknown; prefix: string }[] {
  let items: unknown[];
  let prefix: (i: number) => string;
  if (Array.isArray(body)) {
    items = body;
    prefix = (i) => `${i}.`;
  } else if (isRecord(body) && Array.isArray(body['events'])) {
    items = body['events'];
    prefix = (i) => `events.${i}.`;
  } else if (isRecord(body)) {
    return [{ item: body, prefix: '' }];
  } else {
    throw new WebhookPayloadError([
      { field: '(body)', rule: 'must be a JSON object, an array or {"events":[…]}' },
    ]);
  }
  if (items.length === 0) throw new WebhookPayloadError([{ field: '(body)', rule: 'holds no events' }]);
  if (items.length > maxEvents) {
    throw new WebhookPayloadError([{ field: '(body)', rule: `at most ${maxEvents} events per delivery` }]);
  }
  return items.map((item, i) => ({ item, prefix: prefix(i) }));
}

function checkIdentity(identity: ContactIdentity, fieldOf: (f: string) => string): Problem | undefined {
  try {
    normaliseIdentity(identity);
    return undefined;
  } catch (err) {
    if (err instanceof IdentityError)
      return { field: fieldOf(err.field), rule: err.message.replace(/^[^:]*: /, '') };
    throw err;
  }
}

type PropertyValue = string | number | boolean | null;

interface OptOutDraft {
  eventId: string;
  contact: ContactIdentity;
  kind?: 'marketing' | 'tracking';
  channel?: string;
  source: string;
  moment: string;
  webhook: string;
  properties: Record<string, PropertyValue | undefined>;
}

function toWireEvent(draft: OptOutDraft, channels: readonly string[], prefix: string): WireConsentEvent {
  const properties: Record<string, PropertyValue> = {};
  for (const [k, v] of Object.entries(draft.properties))
    if (v !== undefined) properties[k] = typeof v === 'string' ? v.slice(0, 2_000) : v;
  const parsed = consentEventSchema(channels).safeParse({
    eventId: draft.eventId,
    contact: draft.contact,
    kind: draft.kind ?? 'marketing',
    ...(draft.kind === 'tracking' ? {} : { channel: draft.channel }),
    value: 'opt_out',
    source: draft.source,
    moment: draft.moment,
    way: { collected: 'esp_webhook', webhook: draft.webhook },
    properties,
  });
  if (!parsed.success) throw new WebhookPayloadError(problemsOf(parsed.error, `${prefix}(consent event).`));
  return parsed.data;
}

function collect(
  body: unknown,
  maxEvents: number,
  parseOne: (item: unknown, prefix: string, index: number) => WebhookItem[],
): WebhookItem[] {
  const out: WebhookItem[] = [];
  const problems: Problem[] = [];
  itemsOf(body, maxEvents).forEach(({ item, prefix }, index) => {
    try {
      out.push(...parseOne(item, prefix, index));
    } catch (err) {
      if (!(err instanceof WebhookPayloadError)) throw err;
      problems.push(...err.problems);
    }
  });
  if (problems.length > 0) throw new WebhookPayloadError(problems);
  return out;
}

function reverse(map: Readonly<Record<string, string>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [channel, name] of Object.entries(map)) if (!out.has(name)) out.set(name, channel);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Optimizely Campaign (esp-contracts.md §1.2: webhook types include `unsubscribe` and `blocklist`)

export const OPTIMIZELY_ESP = 'optimizely-campaign';
const OPTIMIZELY_SUBSCRIBE_TYPES = new Set(['singleoptin', 'doubleoptin', 'confirmedoptin']);

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

/** Blocklist pattern → the address it names, or undefined for wildcards (`*`, `?`; `\*` `\?` are literals). */
export function blocklistAddress(pattern: string): string | undefined {
  if (/(^|[^\\])[*?]/.test(pattern)) return undefined;
  return pattern.replace(/\\([*?])/g, '$1');
}

export function parseOptimizelyWebhook(body: unknown, settings: WebhookParseSettings): WebhookItem[] {
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
    let contact: ContactIdentity;
    let channel: string;
    let identityField: string;
    if (type === 'blocklist') {
      identityField =
        e.pattern !== undefined ? 'pattern' : e.address !== undefined ? 'address' : 'recipientId';
      const raw = e.pattern ?? e.address ?? e.recipientId;
      if (raw === undefined) throw new WebhookPayloadError([{ field: `${prefix}pattern`, rule: 'required' }]);
      const email = blocklistAddress(raw);
      if (email === undefined) return [{ kind: 'ignored', type, reason: 'wildcard_pattern', index }];
      contact = { email };
      channel = 'email'; // a blocklist entry is an address pattern: it blocks email
    } else {
      identityField = 'recipientId';
      if (e.recipientId === undefined)
        throw new WebhookPayloadError([{ field: `${prefix}recipientId`, rule: 'required' }]);
      contact =
        settings.optimizely.recipientId === 'email'
          ? { email: e.recipientId }
          : { externalId: e.recipientId };
      const mediaType = (e.mediaType ?? '').toUpperCase();
      // INFERENCE (as reconciliation, optimizely-campaign.readback.ts): GLOBAL (the default, where mail links and
      // the HTTP API unsubscribe) is an email unsubscribe.
      const mapped = mediaType === '' || mediaType === 'GLOBAL' ? 'email' : byMediaType.get(mediaType);
      if (mapped === undefined) return [{ kind: 'ignored', type, reason: 'channel_not_mapped', index }];
      channel = mapped;
    }
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

// ---------------------------------------------------------------------------------------------
// Actito (esp-contracts.md §3.4: profile-table webhooks, UPDATED_SUBSCRIPTION)

export const ACTITO_ESP = 'actito';
const MARKETING_CONSENT = 'marketingConsent';

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

export function parseActitoWebhook(body: unknown, settings: WebhookParseSettings): WebhookItem[] {
  const s = settings.actito;
  const bySubscription = reverse(s.subscriptions);
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

    const withdrawals: { channel?: string; kind: 'marketing' | 'tracking'; what: string }[] = [];
    const ignored: WebhookItem[] = [];
    for (const sub of e.subscriptions ?? []) {
      if (sub.subscribe) {
        ignored.push({ kind: 'ignored', type, reason: 'resubscribe_ignored', index });
        continue;
      }
      const channel = bySubscription.get(sub.name);
      if (channel === undefined)
        ignored.push({ kind: 'ignored', type, reason: 'subscription_not_mapped', index });
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
      else ignored.push({ kind: 'ignored', type, reason: 'channel_not_mapped', index });
    } else if (consent === true || consent === 'true') {
      ignored.push({ kind: 'ignored', type, reason: 'resubscribe_ignored', index });
    }
    const tracking = s.trackingAttribute ? attributes.get(s.trackingAttribute) : undefined;
    if (tracking === false || tracking === 'false')
      withdrawals.push({ kind: 'tracking', what: 'tracking_consent' });

    const usable = withdrawals.filter(
      (w) => w.kind === 'tracking' || settings.channels.includes(w.channel ?? ''),
    );
    for (const w of withdrawals) {
      if (!usable.includes(w))
        ignored.push({ kind: 'ignored', type, reason: 'channel_not_configured', index });
    }
    if (usable.length === 0) {
      return ignored.length > 0 ? ignored : [{ kind: 'ignored', type, reason: 'nothing_withdrawn', index }];
    }

    const keyAttr = s.uniqueKeyAttribute;
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

// ---------------------------------------------------------------------------------------------
// Generic, CrossEngage-style (esp-contracts.md §2.2: `mail.unsubscribe` / "Message Unsubscribed")

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

export function parseGenericWebhook(body: unknown, settings: WebhookParseSettings): WebhookItem[] {
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
