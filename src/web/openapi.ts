import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Config } from '../../config/index.js';
import { consentBatchSchema, consentEventSchema } from '../contracts/consent-event.js';
import { deadLettersQuery, eventIdParam, espParam, requeueBody } from './admin.routes.js';
import { ADMIN_BASE_PATH } from './admin-common.js';
import { BOARD_BASE_PATH } from './board.js';
import { changesQuery, contactIdParams, contactQuery, contactSearchBody, historyQuery } from './consent.routes.js';
import { reconcileRunBody } from './reconcile.routes.js';

/**
 * OpenAPI 3.1 of the HTTP API, generated from the zod schemas the routes validate with (requests)
 * and the zod schemas below (responses), for this process's configuration (channels, batch
 * size, connected ESPs). Served at /openapi.json. test/integration/openapi.test.ts checks that
 * every route fastify serves is here and that every example validates against its schema.
 */

type Schema = z.ZodType;
type Method = 'get' | 'post';

interface Example {
  summary: string;
  value: unknown;
}

interface Response {
  description: string;
  /** JSON body schema; `ndjson` for a stream of `item` records; `text` for a plain body. */
  schema?: Schema;
  ndjson?: Schema;
  text?: string;
  examples?: Record<string, Example>;
}

export interface Operation {
  method: Method;
  /** OpenAPI path, `{name}` for a path parameter. */
  path: string;
  summary: string;
  tag: string;
  security?: 'producer' | 'board' | 'metrics' | 'webhook' | 'token' | 'none';
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: { schema: Schema; examples?: Record<string, Example>; contentType?: string };
  responses: Record<string, Response>;
}

// ---------------------------------------------------------------------------------------------
// Response schemas (the handlers build these shapes; only requests are validated at run time)

const problem = z.strictObject({ field: z.string(), rule: z.string() });
export const errorResponse = z.strictObject({ error: z.string(), message: z.string(), problems: z.array(problem).optional() });

const recorded = z.strictObject({
  accepted: z.number().int(),
  duplicates: z.number().int(),
  events: z.array(z.strictObject({ eventId: z.string(), status: z.enum(['accepted', 'duplicate']) })),
});

const state = z.enum(['opted_in', 'opted_out', 'unknown']);

const contactView = z.looseObject({
  contactId: z.string(),
  identities: z.looseObject({ externalId: z.string().optional(), email: z.string().optional(), businessUnit: z.string().optional(), phone: z.string().optional() }),
  version: z.number().int(),
  effective: z.strictObject({ marketing: z.record(z.string(), state), tracking: state }),
  decisions: z.looseObject({}),
  suppressed: z.array(z.string()),
  listings: z.array(z.looseObject({})),
  sync: z.record(
    z.string(),
    z.looseObject({
      status: z.enum(['synced', 'partial', 'pending', 'dead_letter']),
      version: z.number().int(),
      outcome: z.string().optional(),
      reason: z.string().optional(),
      pending: z
        .looseObject({ lane: z.number().int(), laneName: z.string(), placeInLine: z.strictObject({ ahead: z.number().int(), estimate: z.boolean(), text: z.string() }) })
        .nullable(),
    }),
  ),
  identityConflicts: z.array(z.string()),
  audit: z.array(z.looseObject({ eventId: z.string(), outcome: z.string() })),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const consentChange = z.looseObject({
  eventId: z.string(),
  contactId: z.string().optional(),
  kind: z.enum(['marketing', 'tracking']),
  channel: z.string().optional(),
  value: z.enum(['opt_in', 'opt_out']),
  force: z.boolean(),
  source: z.string(),
  moment: z.string(),
  received: z.string(),
  applied: z.string(),
  outcome: z.string(),
  reason: z.string().optional(),
  version: z.number().int().optional(),
});

const reconcileRun = z.looseObject({
  runId: z.string(),
  esp: z.string(),
  trigger: z.enum(['schedule', 'api', 'cli']),
  status: z.string(),
  counts: z.record(z.string(), z.number()),
  actions: z.record(z.string(), z.number()),
});

const deadLetter = z.strictObject({
  esp: z.string(),
  contactId: z.string(),
  version: z.number().int(),
  contactVersion: z.number().int(),
  reason: z.string(),
  at: z.string(),
  contactPath: z.string().optional(),
});

const espStatus = z.strictObject({
  esp: z.string(),
  paused: z.boolean(),
  reason: z.string().optional(),
  pausedAt: z.string().optional(),
  resume: z.string().nullable(),
  deadLetters: z.number().int(),
});

const contactJob = z.strictObject({
  queue: z.string(),
  jobId: z.string(),
  name: z.string(),
  state: z.string(),
  lane: z.number().int().optional(),
  addedAt: z.string(),
  boardPath: z.string(),
});

// ---------------------------------------------------------------------------------------------
// Examples

const CONTACT_ID = '97f69956-4b50-4c1e-9a8d-bd133b645caa';

const optOutExample = {
  eventId: 'evt-2026-11-20-0001',
  contact: { externalId: 'u-1', email: 'jo@example.com' },
  kind: 'marketing',
  channel: 'email',
  value: 'opt_out',
  source: 'list_unsubscribe',
  moment: '2026-11-20T10:15:00Z',
};

const trackingExample = {
  eventId: 'evt-2026-11-20-0002',
  contact: { externalId: 'u-1' },
  kind: 'tracking',
  value: 'opt_out',
  source: 'app_settings',
  moment: '2026-11-20T10:16:00Z',
};

const changeExample = {
  eventId: 'evt-2026-11-20-0001',
  contactId: CONTACT_ID,
  identity: { externalId: 'u-1' },
  kind: 'marketing',
  channel: 'email',
  value: 'opt_out',
  force: false,
  source: 'list_unsubscribe',
  moment: '2026-11-20T10:15:00Z',
  received: '2026-11-20T10:15:01.120Z',
  applied: '2026-11-20T10:15:01.480Z',
  outcome: 'applied',
  version: 3,
};

const contactViewExample = {
  contactId: CONTACT_ID,
  identities: { externalId: 'u-1', email: 'jo@example.com' },
  version: 3,
  effective: { marketing: { email: 'opted_out', sms: 'opted_in', push: 'unknown' }, tracking: 'unknown' },
  decisions: {},
  suppressed: ['email opted_out: list_unsubscribe at 2026-11-20T10:15:00Z'],
  listings: [],
  sync: {
    ometria: { status: 'synced', version: 3, outcome: 'pushed', at: '2026-11-20T10:15:02.010Z', pending: null },
    crossengage: { status: 'pending', version: 3, pending: { lane: 1, laneName: 'person', placeInLine: { ahead: 0, estimate: true, text: 'about 0 ahead' } } },
    'dynamic-yield': { status: 'dead_letter', version: 3, reason: 'HTTP 400: request rejected', pending: null },
  },
  identityConflicts: [],
  audit: [{ eventId: 'evt-2026-11-20-0001', outcome: 'applied' }],
  createdAt: '2026-11-01T09:00:00.000Z',
  updatedAt: '2026-11-20T10:15:01.480Z',
};

const validation = (field: string, rule: string): Record<string, Example> => ({
  invalid: { summary: 'every bad field, with its rule', value: { error: 'validation_failed', message: 'the request was not stored', problems: [{ field, rule }] } },
});
const notFound = (message: string): Response => ({
  description: 'not found',
  schema: errorResponse,
  examples: { missing: { summary: message, value: { error: 'not_found', message } } },
});
const bad = (field: string, rule: string): Response => ({ description: 'bad input: each problem names the field and the rule', schema: errorResponse, examples: validation(field, rule) });

// ---------------------------------------------------------------------------------------------

/**
 * Every operation the `web` process serves (Bull Board's own API under its prefix excepted). Over 80
 * lines on purpose: one entry per operation, so the API's catalog reads in one place.
 */
export function operations(config: Pick<Config, 'consent' | 'webhooks'>, esps: readonly string[]): Operation[] {
  const channels = config.consent.channels;
  const single = consentEventSchema(channels);
  const batch = consentBatchSchema(channels, config.consent.maxEventsPerRequest);
  return [
    { method: 'get', path: '/healthz', summary: 'liveness: 200 while the process runs', tag: 'health', security: 'none', responses: { '200': { description: 'running', schema: z.strictObject({ status: z.literal('ok') }), examples: { ok: { summary: 'running', value: { status: 'ok' } } } } } },
    {
      method: 'get', path: '/readyz', summary: 'readiness: Redis (noeviction) and MongoDB reachable', tag: 'health', security: 'none',
      responses: {
        '200': { description: 'ready', schema: z.looseObject({ status: z.enum(['ready', 'not_ready']), checks: z.looseObject({}) }), examples: { ready: { summary: 'both stores answer', value: { status: 'ready', checks: { redis: { ok: true }, mongodb: { ok: true } } } } } },
        '503': { description: 'not ready, naming the failing check', schema: z.looseObject({ status: z.literal('not_ready'), checks: z.looseObject({}) }) },
      },
    },
    { method: 'get', path: '/metrics', summary: 'Prometheus metrics (Bearer METRICS_TOKEN when set)', tag: 'health', security: 'metrics', responses: { '200': { description: 'Prometheus text format', text: 'text/plain' }, '401': { description: 'token missing or wrong', schema: errorResponse } } },
    { method: 'get', path: '/openapi.json', summary: 'this document', tag: 'health', security: 'none', responses: { '200': { description: 'OpenAPI 3.1', schema: z.looseObject({ openapi: z.string() }) } } },
    {
      method: 'post', path: '/v1/consent-events', summary: 'record one consent event, or a batch; stored before the 202', tag: 'consent', security: 'producer',
      body: {
        schema: z.union([single, batch]),
        examples: { one: { summary: 'one opt-out', value: optOutExample }, batch: { summary: 'a batch', value: { events: [optOutExample, trackingExample] } } },
      },
      responses: {
        '202': { description: 'stored; applied and pushed asynchronously', schema: recorded, examples: { stored: { summary: 'one new event', value: { accepted: 1, duplicates: 0, events: [{ eventId: optOutExample.eventId, status: 'accepted' }] } } } },
        '400': bad('events.0.value', 'Invalid option: expected one of "opt_in"|"opt_out"'),
        '409': { description: 'an eventId reused for a different event; nothing stored', schema: errorResponse },
        '429': { description: 'over PRODUCER_RATE_LIMIT_PER_MINUTE; nothing stored (Retry-After)', schema: errorResponse },
      },
    },
    {
      method: 'get', path: '/v1/contacts/{identity}', summary: 'the contact view by identity in the path (prefer POST /v1/contacts/search for email and phone)', tag: 'contacts', security: 'producer',
      params: z.strictObject({ identity: z.string().describe('externalId:<id>, email:<address> or phone:<e164>') }), query: contactQuery,
      responses: { '200': { description: 'the contact view', schema: contactView, examples: { contact: { summary: 'an opted-out email', value: contactViewExample } } }, '400': bad('identity', "unknown identity type 'x'; use externalId:, email: or phone:"), '404': notFound('no contact has this identity') },
    },
    {
      method: 'post', path: '/v1/contacts/search', summary: 'the contact view, found by one identity in the body (no PII in the URL)', tag: 'contacts', security: 'producer',
      body: { schema: contactSearchBody, examples: { email: { summary: 'by email', value: { email: 'jo@example.com' } }, phone: { summary: 'by phone', value: { phone: '+447700900123' } } } },
      responses: { '200': { description: 'the contact view', schema: contactView, examples: { contact: { summary: 'found', value: contactViewExample } } }, '400': bad('(body)', 'needs at least one identity: externalId, email or phone'), '404': notFound('no contact has this identity') },
    },
    {
      method: 'get', path: '/v1/contacts/by-id/{contactId}', summary: 'the contact view by contact id', tag: 'contacts', security: 'producer', params: contactIdParams,
      responses: { '200': { description: 'the contact view', schema: contactView, examples: { contact: { summary: 'found', value: contactViewExample } } }, '404': notFound('no contact has this id') },
    },
    {
      method: 'get', path: '/v1/consent-history', summary: "consent history, streamed as NDJSON oldest first: one contact's, or every change since a time", tag: 'contacts', security: 'producer', query: historyQuery,
      responses: { '200': { description: 'one ConsentChange per line', ndjson: consentChange, examples: { history: { summary: 'two changes', value: `${JSON.stringify(changeExample)}\n${JSON.stringify({ ...changeExample, eventId: 'evt-2026-11-21-0007', value: 'opt_in', version: 4, outcome: 'optin_blocked' })}\n` } } }, '400': bad('since', 'must be an ISO-8601 date-time, e.g. 2026-11-01T00:00:00Z') },
    },
    {
      method: 'get', path: '/v1/consent-changes', summary: 'compliance export: a page of NDJSON changes since a time; x-next-cursor when there is more', tag: 'contacts', security: 'producer', query: changesQuery,
      responses: { '200': { description: 'one ConsentChange per line', ndjson: consentChange, examples: { page: { summary: 'one change', value: `${JSON.stringify(changeExample)}\n` } } }, '400': bad('since', 'must be an ISO-8601 date-time, e.g. 2026-11-01T00:00:00Z') },
    },
    {
      method: 'post', path: '/v1/reconciliation/runs', summary: 'start a reconciliation of one ESP, or all', tag: 'reconciliation', security: 'producer',
      body: { schema: reconcileRunBody(esps), examples: { all: { summary: 'every connected ESP', value: { esp: 'all' } } } },
      responses: { '202': { description: 'queued', schema: z.strictObject({ runs: z.array(z.strictObject({ runId: z.string(), esp: z.string() })) }) }, '400': bad('esp', 'must be "all" or a connected ESP') },
    },
    { method: 'get', path: '/v1/reconciliation/runs', summary: 'recent runs and the latest per ESP', tag: 'reconciliation', security: 'producer', responses: { '200': { description: 'runs', schema: z.strictObject({ latest: z.record(z.string(), reconcileRun.nullable()), runs: z.array(reconcileRun) }) } } },
    { method: 'get', path: '/v1/reconciliation/runs/{id}', summary: 'one run and its drift report', tag: 'reconciliation', security: 'producer', params: z.strictObject({ id: z.string() }), responses: { '200': { description: 'the run', schema: reconcileRun }, '404': notFound('no reconciliation run has this id') } },
    ...Object.keys(config.webhooks.endpoints).map(
      (endpoint): Operation => ({
        method: 'post', path: `/v1/webhooks/${endpoint}`, summary: `ESP webhook (${endpoint}): unsubscribes and bounces in the ESP's own format (README "ESP webhooks")`, tag: 'webhooks', security: 'webhook',
        body: { schema: z.unknown().describe("the ESP's documented webhook payload") },
        responses: { '200': { description: 'handled (or a duplicate delivery)', schema: z.looseObject({}) }, '401': { description: 'authentication failed', schema: errorResponse } },
      }),
    ),
    { method: 'get', path: '/u/{token}', summary: 'one-click unsubscribe page for a List-Unsubscribe link', tag: 'unsubscribe', security: 'token', params: z.strictObject({ token: z.string() }), responses: { '200': { description: 'confirmation page', text: 'text/html' }, '404': { description: 'invalid or expired link', text: 'text/html' } } },
    {
      method: 'post', path: '/u/{token}', summary: 'RFC 8058 one-click unsubscribe (body List-Unsubscribe=One-Click)', tag: 'unsubscribe', security: 'token', params: z.strictObject({ token: z.string() }),
      body: { schema: z.string(), contentType: 'application/x-www-form-urlencoded', examples: { oneClick: { summary: 'RFC 8058 body', value: 'List-Unsubscribe=One-Click' } } },
      responses: { '200': { description: 'unsubscribed', text: 'text/html' }, '400': { description: 'not a one-click body', text: 'text/plain' } },
    },
    { method: 'get', path: BOARD_BASE_PATH, summary: "Bull Board (its own UI and API live under this prefix and are Bull Board's, not documented here)", tag: 'admin', security: 'board', responses: { '200': { description: 'Bull Board UI', text: 'text/html' } } },
    { method: 'get', path: `${ADMIN_BASE_PATH}/`, summary: 'operator page: paused ESPs, dead letters, contact search, a contact\'s jobs', tag: 'admin', security: 'board', responses: { '200': { description: 'the page', text: 'text/html' } } },
    { method: 'get', path: `${ADMIN_BASE_PATH}/app.js`, summary: "the operator page's script", tag: 'admin', security: 'board', responses: { '200': { description: 'script', text: 'text/javascript' } } },
    {
      method: 'get', path: `${ADMIN_BASE_PATH}/api/status`, summary: 'each connected ESP: paused (why, how to resume) and its dead letters', tag: 'admin', security: 'board',
      responses: { '200': { description: 'statuses', schema: z.strictObject({ esps: z.array(espStatus), boardPath: z.string() }), examples: { paused: { summary: 'one ESP paused after a 401', value: { boardPath: BOARD_BASE_PATH, esps: [{ esp: 'crossengage', paused: true, reason: 'HTTP 401: credentials rejected', pausedAt: '2026-11-20T10:16:00.000Z', resume: "fix crossengage's credentials, then run `consent-sync resume crossengage`", deadLetters: 0 }, { esp: 'ometria', paused: false, resume: null, deadLetters: 2 }] } } } } },
    },
    {
      method: 'get', path: `${ADMIN_BASE_PATH}/api/dead-letters`, summary: 'dead letters, oldest first per ESP', tag: 'admin', security: 'board', query: deadLettersQuery,
      responses: { '200': { description: 'dead letters', schema: z.strictObject({ deadLetters: z.array(deadLetter) }), examples: { one: { summary: 'one refused push', value: { deadLetters: [{ esp: 'ometria', contactId: CONTACT_ID, version: 3, contactVersion: 3, reason: 'email address is not valid for Ometria', at: '2026-11-20T10:15:02.000Z', contactPath: `${ADMIN_BASE_PATH}/#contact=${CONTACT_ID}` }] } } } }, '400': bad('esp', 'must be a connected ESP') },
    },
    { method: 'get', path: `${ADMIN_BASE_PATH}/api/dead-letters/{contactId}`, summary: "one contact's dead letters", tag: 'admin', security: 'board', params: contactIdParams, responses: { '200': { description: 'dead letters', schema: z.strictObject({ contactId: z.string(), deadLetters: z.array(deadLetter) }) }, '404': notFound('no contact has this id') } },
    {
      method: 'post', path: `${ADMIN_BASE_PATH}/api/dead-letters/requeue`, summary: 'requeue dead letters through the outbox: one contact, or all (of one ESP)', tag: 'admin', security: 'board',
      body: { schema: requeueBody, examples: { one: { summary: 'one contact at one ESP', value: { esp: 'ometria', contactId: CONTACT_ID } }, all: { summary: 'every dead letter', value: { all: true } } } },
      responses: { '200': { description: 'requeued, per ESP', schema: z.strictObject({ requeued: z.record(z.string(), z.number().int()), total: z.number().int() }), examples: { done: { summary: 'one requeued', value: { requeued: { ometria: 1 }, total: 1 } } } }, '400': bad('(body)', 'give contactId (one contact) or "all": true (every dead letter), not both'), '403': { description: 'no X-Requested-By header', schema: errorResponse }, '404': notFound('contact has no dead letter') },
    },
    { method: 'post', path: `${ADMIN_BASE_PATH}/api/esps/{esp}/resume`, summary: 'resume an ESP paused after a 401/403 (fix the credentials first)', tag: 'admin', security: 'board', params: espParam, responses: { '200': { description: 'resumed', schema: z.strictObject({ esp: z.string(), paused: z.literal(false) }) }, '403': { description: 'no X-Requested-By header', schema: errorResponse } } },
    {
      method: 'post', path: `${ADMIN_BASE_PATH}/api/contacts/search`, summary: 'find a contact by identity in the body; answers its id and page', tag: 'admin', security: 'board',
      body: { schema: contactSearchBody, examples: { phone: { summary: 'by phone', value: { phone: '+447700900123' } } } },
      responses: { '200': { description: 'found', schema: z.strictObject({ contactId: z.string(), contactPath: z.string() }) }, '404': notFound('no contact has this identity') },
    },
    { method: 'get', path: `${ADMIN_BASE_PATH}/api/contacts/{contactId}`, summary: 'the contact view and its BullMQ jobs, with Bull Board links', tag: 'admin', security: 'board', params: contactIdParams, responses: { '200': { description: 'contact and jobs', schema: z.strictObject({ contact: contactView, jobs: z.array(contactJob) }) }, '404': notFound('no contact has this id') } },
    { method: 'get', path: `${ADMIN_BASE_PATH}/api/events/{eventId}`, summary: 'the contact a stored event was applied to (apply jobs carry event ids)', tag: 'admin', security: 'board', params: eventIdParam, responses: { '200': { description: 'the event', schema: z.strictObject({ eventId: z.string(), status: z.string(), contactId: z.string().optional(), contactPath: z.string().optional() }) }, '404': notFound('no event has this id') } },
  ];
}

// ---------------------------------------------------------------------------------------------

const jsonSchema = (schema: Schema, io: 'input' | 'output') => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

const SECURITY: Record<NonNullable<Operation['security']>, Record<string, string[]>[]> = {
  producer: [{ producerKey: [] }, {}],
  board: [{ boardLogin: [] }],
  metrics: [{ metricsToken: [] }, {}],
  webhook: [{}],
  token: [{}],
  none: [{}],
};

function parameters(where: 'path' | 'query', schema: z.ZodObject | undefined) {
  if (!schema) return [];
  const shape = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(shape.properties ?? {}).map(([name, s]) => ({ name, in: where, required: where === 'path' || (shape.required ?? []).includes(name), schema: s }));
}

function response(r: Response) {
  const examples = r.examples ? { examples: r.examples } : {};
  if (r.schema) return { description: r.description, content: { 'application/json': { schema: jsonSchema(r.schema, 'output'), ...examples } } };
  if (r.ndjson) {
    return {
      description: r.description,
      content: { 'application/x-ndjson': { schema: { type: 'string', description: 'one JSON record per line (x-item-schema)' }, 'x-item-schema': jsonSchema(r.ndjson, 'output'), ...examples } },
    };
  }
  if (r.text) return { description: r.description, content: { [r.text]: { schema: { type: 'string' }, ...examples } } };
  return { description: r.description };
}

export function openApiDocument(config: Pick<Config, 'consent' | 'webhooks'>, esps: readonly string[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations(config, esps)) {
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      summary: op.summary,
      tags: [op.tag],
      security: SECURITY[op.security ?? 'producer'],
      parameters: [...parameters('path', op.params), ...parameters('query', op.query)],
      ...(op.body
        ? { requestBody: { required: true, content: { [op.body.contentType ?? 'application/json']: { schema: jsonSchema(op.body.schema, 'input'), ...(op.body.examples ? { examples: op.body.examples } : {}) } } } }
        : {}),
      responses: Object.fromEntries(Object.entries(op.responses).map(([status, r]) => [status, response(r)])),
    };
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'consent-sync',
      version: '0.1.0',
      description: 'Records consent events, answers per-contact consent and history, and operates the sync to the ESPs. Generated from the zod schemas the routes validate with.',
    },
    tags: ['consent', 'contacts', 'reconciliation', 'webhooks', 'unsubscribe', 'admin', 'health'].map((name) => ({ name })),
    components: {
      securitySchemes: {
        producerKey: { type: 'http', scheme: 'bearer', description: 'a PRODUCER_API_KEYS secret (when keys are configured)' },
        boardLogin: { type: 'http', scheme: 'basic', description: 'BOARD_USERNAME / BOARD_PASSWORD; writes also need an X-Requested-By header' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when set' },
      },
    },
    paths,
  };
}

export function registerOpenApiRoute(app: FastifyInstance, config: Pick<Config, 'consent' | 'webhooks'>, esps: readonly string[]): void {
  // Built once: the document depends only on configuration, fixed at start-up.
  const document = openApiDocument(config, esps);
  app.get('/openapi.json', async (_request, reply) => reply.header('cache-control', 'no-cache').send(document));
}
