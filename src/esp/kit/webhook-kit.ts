import { createHash } from 'node:crypto';
import { z } from 'zod';
import { consentEventSchema, describeZodIssues, type WireConsentEvent } from '../../contracts/consent-event.js';
import { type ContactIdentity, IdentityError, normaliseIdentity } from '../../domain/index.js';

/**
 * What every ESP's webhook parser shares (src/esp/<esp>/<esp>.webhook.ts): ESP webhook payloads →
 * opt_out consent events (product.md §4 last paragraph). src/ingest/webhook-events.ts picks the parser.
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
 * follow the simulators (src/esp/<esp>/simulator/) and are lenient about extra fields.
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

/** What every parser reads: the canonical channels and the batch limit. */
export interface WebhookBaseSettings {
  /** Canonical channels (CHANNELS). */
  channels: readonly string[];
  maxEvents: number;
}

/** One ESP's parser: a delivery's body → its items, or WebhookPayloadError naming each bad field. */
export type WebhookParser<S extends WebhookBaseSettings = WebhookBaseSettings> = (
  body: unknown,
  settings: S,
) => WebhookItem[];

/** `wh:<esp>:<40 hex>`: the same ESP event gives the same id on every delivery. */
export function webhookEventId(esp: string, parts: readonly (string | number | null | undefined)[]): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([esp, ...parts.map((p) => (p === undefined ? null : p))]))
    .digest('hex')
    .slice(0, 40);
  return `wh:${esp}:${digest}`;
}

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

/** An ESP timestamp field, read by parseEspTimestamp; the issue names what it must be. */
export const timestampField = z.unknown().transform((v, ctx) => {
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

/** An ESP id: a non-empty string or a non-negative integer, as a string. */
export const idLike = z.union([z.string().trim().min(1).max(200), z.number().int().nonnegative()]).transform(String);
export const text = (max: number) => z.string().trim().min(1).max(max);

/** Zod issues → problems whose fields carry the item's prefix (`events.3.`). */
export function problemsOf(error: z.ZodError, prefix: string): Problem[] {
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

/** The identity's first problem, under the payload's field name, or undefined when it is usable. */
export function checkIdentity(identity: ContactIdentity, fieldOf: (f: string) => string): Problem | undefined {
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

/** An opt-out as a parser sees it, before it is checked as a consent event. */
export interface OptOutDraft {
  eventId: string;
  contact: ContactIdentity;
  kind?: 'marketing' | 'tracking';
  channel?: string;
  source: string;
  moment: string;
  webhook: string;
  properties: Record<string, PropertyValue | undefined>;
}

/** A draft → the consent event we store; a draft that is not one throws WebhookPayloadError. */
export function toWireEvent(draft: OptOutDraft, channels: readonly string[], prefix: string): WireConsentEvent {
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

/** Parses each item of a delivery; the problems of every item are thrown together. */
export function collect(
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

/** canonical channel → ESP name, read backwards (the first channel wins a shared name). */
export function reverse(map: Readonly<Record<string, string>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [channel, name] of Object.entries(map)) if (!out.has(name)) out.set(name, channel);
  return out;
}
