import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { describeZodIssues } from '../contracts/consent-event.js';
import { IdentityError } from '../domain/index.js';
import { ESP_NAME_PATTERN, type EspName } from '../esp/types.js';
import type { AppContext } from '../app/context.js';
import { contactJobs, contactPagePath } from '../operate/contact-jobs.js';
import { ADMIN_PAGE_HTML, ADMIN_PAGE_SCRIPT } from './admin-page.js';
import { BOARD_BASE_PATH } from './board.js';
import { contactIdParams, contactSearchBody } from './consent.routes.js';
import { errorBody } from './errors.js';
import { ADMIN_BASE_PATH, boardLoginHook, setAdminPageHeaders } from './admin-common.js';

/**
 * The operator's page beside Bull Board, and its JSON API: paused ESPs (why, how to resume),
 * dead letters (list, reason, requeue), a contact's view and jobs, and the contact of a job.
 * Same Basic credentials as Bull Board. Writes need the `X-Requested-By` header: a cross-site
 * form cannot send a custom header without a CORS preflight, which this server never grants, so
 * the credentials a browser attaches by itself are useless to another site. No PII in a URL:
 * contact search takes the identity in a POST body, and links carry contact ids.
 */

export const ADMIN_WRITE_HEADER = 'x-requested-by';

/** An ESP's name; whether it is connected here is checked against the context (`connected`). */
export const espName = z.string().regex(ESP_NAME_PATTERN, 'must be an ESP name (lower-case letters, digits and dashes)');
export const espParam = z.strictObject({ esp: espName });
export const eventIdParam = z.strictObject({ eventId: z.string().min(1).max(128) });
export const deadLettersQuery = z.strictObject({
  esp: espName.optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1_000),
});
export const requeueBody = z
  .strictObject({
    esp: espName.optional(),
    contactId: z.string().min(1).max(64).optional(),
    all: z.literal(true).optional(),
  })
  .refine((b) => (b.contactId === undefined) !== (b.all === undefined), {
    message: 'give contactId (one contact) or "all": true (every dead letter), not both',
  });

type Parsed<T> = { ok: true; data: T } | { ok: false };

function parse<T>(schema: z.ZodType<T>, value: unknown, reply: FastifyReply, what: string): Parsed<T> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return { ok: true, data: result.data };
  void reply.code(400).send(errorBody('validation_failed', `bad ${what}`, describeZodIssues(result.error)));
  return { ok: false };
}

async function writeGuard(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (request.method === 'GET' || request.method === 'HEAD') return undefined;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return reply.code(403).send(errorBody('csrf_rejected', `cross-site write refused (Sec-Fetch-Site is ${site})`));
  }
  if (!request.headers[ADMIN_WRITE_HEADER]) {
    return reply
      .code(403)
      .send(errorBody('csrf_rejected', 'writes need an X-Requested-By header', [{ field: 'X-Requested-By', rule: 'required on POST' }]));
  }
  return undefined;
}

function connected(ctx: AppContext, esp: EspName | undefined, reply: FastifyReply): boolean {
  if (esp === undefined || ctx.esps.includes(esp)) return true;
  void reply
    .code(400)
    .send(errorBody('validation_failed', `${esp} is not connected`, [{ field: 'esp', rule: `must be a connected ESP: ${ctx.esps.join(', ') || '(none)'}` }]));
  return false;
}

/** Dead letters (list, one contact's, requeue) and resuming a paused ESP. */
function registerDeadLetterApi(scope: FastifyInstance, ctx: AppContext): void {
  scope.get('/api/dead-letters', async (request, reply) => {
    const query = parse(deadLettersQuery, request.query, reply, 'query');
    if (!query.ok || !connected(ctx, query.data.esp, reply)) return reply;
    const deadLetters = await ctx.services.deadLetters({ limit: query.data.limit, ...(query.data.esp ? { esp: query.data.esp } : {}) });
    return { deadLetters: deadLetters.map((d) => ({ ...d, contactPath: contactPagePath(ADMIN_BASE_PATH, d.contactId) })) };
  });

  scope.get('/api/dead-letters/:contactId', async (request, reply) => {
    const params = parse(contactIdParams, request.params, reply, 'path');
    if (!params.ok) return reply;
    const deadLetters = await ctx.services.deadLettersOfContact(params.data.contactId);
    if (deadLetters === null) return reply.code(404).send(errorBody('not_found', 'no contact has this id'));
    return { contactId: params.data.contactId, deadLetters };
  });

  scope.post('/api/dead-letters/requeue', async (request, reply) => {
    const body = parse(requeueBody, request.body, reply, 'body');
    if (!body.ok || !connected(ctx, body.data.esp, reply)) return reply;
    const { esp, contactId } = body.data;
    const requeued = await ctx.services.requeueDeadLetters({ ...(esp ? { esps: [esp] } : {}), ...(contactId ? { contactIds: [contactId] } : {}) });
    const total = Object.values(requeued).reduce((n, ids) => n + ids.length, 0);
    if (contactId && total === 0) return reply.code(404).send(errorBody('not_found', `contact ${contactId} has no dead letter${esp ? ` for ${esp}` : ''}`));
    request.log.info({ esp, contactId, total }, 'dead letters requeued');
    return { requeued: Object.fromEntries(Object.entries(requeued).map(([e, ids]) => [e, ids.length])), total };
  });

  scope.post('/api/esps/:esp/resume', async (request, reply) => {
    const params = parse(espParam, request.params, reply, 'path');
    if (!params.ok || !connected(ctx, params.data.esp, reply)) return reply;
    await ctx.services.resumeEsp(params.data.esp);
    return { esp: params.data.esp, paused: false };
  });
}

/** Finding a contact, its view with its jobs, and the contact an event was applied to. */
function registerContactApi(scope: FastifyInstance, ctx: AppContext): void {
  scope.post('/api/contacts/search', async (request, reply) => {
    const body = parse(contactSearchBody, request.body, reply, 'body');
    if (!body.ok) return reply;
    let view: Awaited<ReturnType<typeof ctx.services.contactView>>;
    try {
      view = await ctx.services.contactView(body.data);
    } catch (err) {
      if (err instanceof IdentityError) return reply.code(400).send(errorBody('invalid_identity', err.message, [{ field: '(body)', rule: err.message }]));
      throw err;
    }
    if (!view) return reply.code(404).send(errorBody('not_found', 'no contact has this identity'));
    return { contactId: view.contactId, contactPath: contactPagePath(ADMIN_BASE_PATH, view.contactId) };
  });

  scope.get('/api/contacts/:contactId', async (request, reply) => {
    const params = parse(contactIdParams, request.params, reply, 'path');
    if (!params.ok) return reply;
    const view = await ctx.services.contactViewById(params.data.contactId);
    if (!view) return reply.code(404).send(errorBody('not_found', 'no contact has this id'));
    const jobs = await contactJobs({ models: ctx.models, runtime: ctx.runtime, esps: ctx.esps, boardBasePath: BOARD_BASE_PATH }, view.contactId);
    return { contact: view, jobs };
  });

  scope.get('/api/events/:eventId', async (request, reply) => {
    const params = parse(eventIdParam, request.params, reply, 'path');
    if (!params.ok) return reply;
    const event = await ctx.services.eventContact(params.data.eventId);
    if (!event) return reply.code(404).send(errorBody('not_found', 'no event has this id'));
    return { ...event, ...(event.contactId ? { contactPath: contactPagePath(ADMIN_BASE_PATH, event.contactId) } : {}) };
  });
}

export async function registerAdminRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', boardLoginHook(ctx.config.board));
      scope.addHook('onRequest', writeGuard);
      scope.addHook('onSend', async (_request, reply, payload) => {
        reply.header('cache-control', 'no-store');
        setAdminPageHeaders(reply);
        reply.header('content-security-policy', "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'");
        return payload;
      });

      scope.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(ADMIN_PAGE_HTML));
      scope.get('/app.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(ADMIN_PAGE_SCRIPT));

      scope.get('/api/status', async () => ({ esps: await ctx.services.espStatuses(), boardPath: BOARD_BASE_PATH }));

      registerDeadLetterApi(scope, ctx);
      registerContactApi(scope, ctx);
    },
    { prefix: ADMIN_BASE_PATH },
  );
}
