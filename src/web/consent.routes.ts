import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { consentBatchSchema, consentEventSchema, describeZodIssues, READABLE_ERRORS, wireContactSchema } from '../contracts/consent-event.js';
import { IdentityError } from '../domain/index.js';
import type { AppContext } from '../app/context.js';
import { IdentityParseError, parseIdentityParam } from '../operate/contact-view.js';
import { EventIdConflictError, EventValidationError } from '../ingest/record-events.js';
import { errorBody } from './errors.js';

export const contactQuery = z.strictObject({ businessUnit: z.string().trim().min(1).max(100).optional() });

export const contactIdParams = z.strictObject({ contactId: z.string().min(1).max(64) });

export const historyQuery = z.strictObject({
  contactId: z.string().min(1).max(64).optional(),
  since: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time, e.g. 2026-11-01T00:00:00Z' }).optional(),
});

/** The contact search body: one identity (externalId, email with its businessUnit, or phone), never in a URL. */
export const contactSearchBody = wireContactSchema;

export const changesQuery = z.strictObject({
  since: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time, e.g. 2026-11-01T00:00:00Z' }),
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1_000),
});

/** A replay is harmless, and the producer should know it was one. */
export function duplicateMessage(eventIds: readonly string[]): string {
  const shown = eventIds.slice(0, 5).join(', ');
  const more = eventIds.length > 5 ? ` and ${eventIds.length - 5} more` : '';
  return `${shown}${more} ${eventIds.length === 1 ? 'was' : 'were'} already recorded with the same content (a duplicate): nothing changed`;
}

/** `POST /v1/consent-events`: one event or a batch, stored before the 202. */
function registerConsentEventRoute(
  app: FastifyInstance,
  ctx: AppContext,
  schemas: { single: ReturnType<typeof consentEventSchema>; batch: ReturnType<typeof consentBatchSchema> },
): void {
  app.post('/v1/consent-events', async (request, reply) => {
    const body = request.body;
    const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'events' in body;
    const parsed = isBatch ? schemas.batch.safeParse(body, READABLE_ERRORS) : schemas.single.safeParse(body, READABLE_ERRORS);
    if (!parsed.success) {
      return reply.code(400).send(errorBody('validation_failed', 'the request was not stored', describeZodIssues(parsed.error)));
    }
    const events = 'events' in parsed.data ? parsed.data.events : [parsed.data];
    try {
      const results = await ctx.services.recordEvents(events, isBatch ? 'events' : '');
      const duplicates = results.filter((r) => r.status === 'duplicate').map((r) => r.eventId);
      return reply.code(202).send({
        accepted: results.length - duplicates.length,
        duplicates: duplicates.length,
        ...(duplicates.length > 0 ? { message: duplicateMessage(duplicates) } : {}),
        events: results,
      });
    } catch (err) {
      if (err instanceof EventValidationError) {
        return reply.code(400).send(errorBody('validation_failed', 'the request was not stored', err.problems));
      }
      if (err instanceof EventIdConflictError) {
        return reply.code(409).send(
          errorBody(
            'event_id_conflict',
            'these eventIds were already used for different events; nothing in this request was stored',
            err.eventIds.map((id) => ({ field: 'eventId', rule: `${id} already identifies a different event` })),
          ),
        );
      }
      throw err;
    }
  });
}

/** The contact view: by identity in the path, by identity in a POST body (no PII in URLs), by contact id. */
function registerContactRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { identity: string }; Querystring: { businessUnit?: string } }>(
    '/v1/contacts/:identity',
    async (request, reply) => {
      const query = contactQuery.safeParse(request.query);
      if (!query.success) {
        return reply.code(400).send(errorBody('validation_failed', 'bad query', describeZodIssues(query.error)));
      }
      try {
        const identity = parseIdentityParam(request.params.identity, query.data.businessUnit);
        const view = await ctx.services.contactView(identity);
        if (!view) return reply.code(404).send(errorBody('not_found', 'no contact has this identity'));
        return view;
      } catch (err) {
        if (err instanceof IdentityParseError || err instanceof IdentityError) {
          return reply.code(400).send(errorBody('invalid_identity', err.message, [{ field: 'identity', rule: err.message }]));
        }
        throw err;
      }
    },
  );

  // Search by identity in a POST body: an email or phone never lands in a URL, an access log or
  // a proxy's history. The answer, and every link after it, uses the contact id.
  app.post('/v1/contacts/search', async (request, reply) => {
    const body = contactSearchBody.safeParse(request.body);
    if (!body.success) return reply.code(400).send(errorBody('validation_failed', 'bad contact search', describeZodIssues(body.error)));
    try {
      const view = await ctx.services.contactView(body.data);
      if (!view) return reply.code(404).send(errorBody('not_found', 'no contact has this identity'));
      return view;
    } catch (err) {
      if (err instanceof IdentityError) return reply.code(400).send(errorBody('invalid_identity', err.message, [{ field: '(body)', rule: err.message }]));
      throw err;
    }
  });

  app.get('/v1/contacts/by-id/:contactId', async (request, reply) => {
    const params = contactIdParams.safeParse(request.params);
    if (!params.success) return reply.code(400).send(errorBody('validation_failed', 'bad contact id', describeZodIssues(params.error)));
    const view = await ctx.services.contactViewById(params.data.contactId);
    if (!view) return reply.code(404).send(errorBody('not_found', 'no contact has this id'));
    return view;
  });
}

/** Consent history (streamed NDJSON) and the paged consent changes since a time. */
function registerHistoryRoutes(app: FastifyInstance, ctx: AppContext): void {
  // One response, streamed from one MongoDB cursor: any size in constant memory, no paging.
  app.get('/v1/consent-history', async (request, reply) => {
    const query = historyQuery.safeParse(request.query);
    if (!query.success) return reply.code(400).send(errorBody('validation_failed', 'bad query', describeZodIssues(query.error)));
    const { contactId, since } = query.data;
    const records = ctx.services.consentHistory({ ...(contactId ? { contactId } : {}), ...(since ? { since: new Date(since) } : {}) });
    const lines = Readable.from(
      (async function* () {
        for await (const record of records) yield `${JSON.stringify(record)}\n`;
      })(),
    );
    return reply.type('application/x-ndjson').header('cache-control', 'no-store').send(lines);
  });

  app.get('/v1/consent-changes', async (request, reply) => {
    const query = changesQuery.safeParse(request.query);
    if (!query.success) {
      return reply.code(400).send(errorBody('validation_failed', 'bad query', describeZodIssues(query.error)));
    }
    let page: Awaited<ReturnType<typeof ctx.services.consentChanges>>;
    try {
      page = await ctx.services.consentChanges({
        since: new Date(query.data.since),
        limit: query.data.limit,
        ...(query.data.cursor ? { cursor: query.data.cursor } : {}),
      });
    } catch (err) {
      if (err instanceof RangeError) {
        return reply.code(400).send(errorBody('validation_failed', err.message, [{ field: 'cursor', rule: err.message }]));
      }
      throw err;
    }
    if (page.nextCursor) reply.header('x-next-cursor', page.nextCursor);
    reply.type('application/x-ndjson');
    return page.records.map((r) => `${JSON.stringify(r)}\n`).join('');
  });
}

export function registerConsentRoutes(app: FastifyInstance, ctx: AppContext): void {
  const channels = ctx.config.consent.channels;
  const single = consentEventSchema(channels);
  const batch = consentBatchSchema(channels, ctx.config.consent.maxEventsPerRequest);
  registerConsentEventRoute(app, ctx, { single, batch });
  registerContactRoutes(app, ctx);
  registerHistoryRoutes(app, ctx);
}
