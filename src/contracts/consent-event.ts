import { z } from 'zod';

/**
 * The wire format of a consent event: part of the product (README "Event schema"), shared by
 * the HTTP API and the TypeScript client. Strict everywhere: unknown fields are errors, and no
 * key can start with `$`, contain `.`, or be `__proto__`, so nothing a client sends can become a
 * MongoDB operator or a prototype change.
 */

const SAFE_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const SAFE_KEY_RULE = 'keys must start with a letter or _ and use only letters, digits, _ or - (no $, no dots)';

/** Keys that reach prototypes or the BSON serializer's type tags, whatever their shape. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype', '_bsontype']);
const safeKey = z
  .string()
  .regex(SAFE_KEY, SAFE_KEY_RULE)
  .refine((k) => !RESERVED_KEYS.has(k), 'reserved key (__proto__, constructor, prototype, _bsontype)');

const freeText = (max: number) => z.string().max(max, `at most ${max} characters`);

const stringMap = (maxEntries: number) =>
  z
    .record(safeKey, freeText(2_000))
    .refine((m) => Object.keys(m).length <= maxEntries, `at most ${maxEntries} entries`);

const propertyValue = z.union([freeText(2_000), z.number().finite(), z.boolean(), z.null()]);

export const wireContactSchema = z
  .strictObject({
    externalId: z.string().trim().min(1).max(200).optional(),
    email: z.string().trim().min(3).max(320).optional(),
    businessUnit: z.string().trim().min(1).max(100).regex(/^[\w.-]+$/, 'letters, digits, _, . and - only').optional(),
    phone: z.string().trim().min(4).max(32).optional(),
  })
  .refine((c) => c.externalId !== undefined || c.email !== undefined || c.phone !== undefined, {
    message: 'needs at least one identity: externalId, email or phone',
  });

export const SOURCE_PATTERN = /^[a-z][a-z0-9_]{0,47}(:[a-z0-9][a-z0-9_-]{0,47})?$/;

export function consentEventSchema(channels: readonly string[]) {
  const channelNames = [...channels, 'all'];
  return z.strictObject({
    eventId: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'letters, digits, ., _, : and - only, starting with a letter or digit'),
    contact: wireContactSchema,
    kind: z.enum(['marketing', 'tracking']),
    channel: z
      .string()
      .refine((c) => channelNames.includes(c), `must be one of ${channelNames.join(', ')}`)
      .optional(),
    value: z.enum(['opt_in', 'opt_out']),
    source: z.string().regex(SOURCE_PATTERN, 'lower-case words such as list_unsubscribe or esp:ometria'),
    force: z.boolean().default(false),
    moment: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time with a zone, e.g. 2026-11-20T10:15:00Z' }).optional(),
    way: stringMap(20).optional(),
    proof: stringMap(20).optional(),
    properties: z
      .record(safeKey, propertyValue)
      .refine((m) => Object.keys(m).length <= 50, 'at most 50 entries')
      .optional(),
  });
}

export type WireConsentEvent = z.infer<ReturnType<typeof consentEventSchema>>;
export type WireConsentEventInput = z.input<ReturnType<typeof consentEventSchema>>;

export function consentBatchSchema(channels: readonly string[], maxEvents: number) {
  return z.strictObject({
    events: z
      .array(consentEventSchema(channels))
      .min(1, 'needs at least one event')
      .max(maxEvents, `at most ${maxEvents} events per request`),
  });
}

/**
 * Parse options for the schemas here: a field left out reads "required" (with the allowed values
 * when there is a fixed set), where zod would say "expected string, received undefined".
 */
export const READABLE_ERRORS = {
  error: (issue: { input?: unknown; code?: string; values?: readonly unknown[] }) => {
    if (issue.input !== undefined) return undefined;
    if (issue.code === 'invalid_value' && issue.values?.length) return `required: one of ${issue.values.join(', ')}`;
    return issue.code === 'invalid_type' || issue.code === 'invalid_value' ? 'required' : undefined;
  },
} as const;

/** "events.3.contact.email: Invalid email" — every problem, each naming its field. */
export function describeZodIssues(error: z.ZodError): { field: string; rule: string }[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String);
    const keys = (issue as { keys?: string[] }).keys;
    const field = keys?.length ? [...path, keys.join(',')].join('.') : path.join('.');
    const nested = (issue as { issues?: { message: string }[] }).issues;
    const rule = issue.code === 'invalid_key' && nested?.[0] ? nested[0].message : issue.message;
    return { field: field || '(body)', rule };
  });
}
