import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApp } from '../../src/web/app.js';
import { BOARD_BASE_PATH } from '../../src/web/board.js';
import { createTestContext } from '../support/integration.js';

type Ctx = Awaited<ReturnType<typeof createTestContext>>;
type Media = { schema: Record<string, unknown>; 'x-item-schema'?: Record<string, unknown>; examples?: Record<string, { value: unknown }> };
type Op = { requestBody?: { content: Record<string, Media> }; responses: Record<string, { content?: Record<string, Media> }> };
type Doc = { openapi: string; paths: Record<string, Record<string, Op>> };

/** One spelling for fastify's `:name` / `*` and OpenAPI's `{name}`, without a trailing slash. */
const normalise = (path: string) => path.replace(/:[^/]+|\*|\{[^}]+\}/g, '{}').replace(/(.)\/$/, '$1');

describe('OpenAPI 3.1 at /openapi.json', () => {
  let ctx: Ctx;
  let app: FastifyInstance;
  let doc: Doc;
  const served = new Set<string>();

  beforeAll(async () => {
    ctx = await createTestContext();
    app = await createApp(ctx, {
      onRoute: ({ method, url }) => {
        for (const m of [method].flat()) if (m !== 'HEAD') served.add(`${m.toLowerCase()} ${url}`);
      },
    });
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json() as Doc;
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.dispose();
  });

  const documented = () => new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${normalise(path)}`)));

  it('is OpenAPI 3.1 and names every route the app serves (Bull Board\'s own API under its prefix excepted)', () => {
    expect(doc.openapi).toBe('3.1.0');
    const missing = [...served]
      .filter((route) => !route.split(' ')[1]!.startsWith(`${BOARD_BASE_PATH}/`))
      .filter((route) => {
        const [method, url] = route.split(' ');
        return !documented().has(`${method} ${normalise(url!)}`);
      });
    expect(missing).toEqual([]);
    expect(served.size).toBeGreaterThan(20);
  });

  it('documents only routes the app serves', () => {
    const servedNormalised = new Set([...served].map((r) => `${r.split(' ')[0]} ${normalise(r.split(' ')[1]!)}`));
    expect([...documented()].filter((r) => !servedNormalised.has(r))).toEqual([]);
  });

  it('every example validates against its schema (request bodies, responses, and each NDJSON line)', () => {
    let checked = 0;
    const check = (where: string, media: Media) => {
      for (const [name, example] of Object.entries(media.examples ?? {})) {
        const itemSchema = media['x-item-schema'];
        const values = itemSchema ? String(example.value).trim().split('\n').map((line) => JSON.parse(line)) : [example.value];
        const schema = z.fromJSONSchema((itemSchema ?? media.schema) as never);
        for (const value of values) {
          const result = schema.safeParse(value);
          expect(result.success, `${where} example ${name}: ${result.success ? '' : JSON.stringify(result.error.issues)}`).toBe(true);
          checked++;
        }
      }
    };
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) check(`${method} ${path} request ${type}`, media);
        for (const [status, response] of Object.entries(op.responses)) {
          for (const [type, media] of Object.entries(response.content ?? {})) check(`${method} ${path} ${status} ${type}`, media);
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('the schemas are the ones the routes validate with: what the API refuses, the document refuses', async () => {
    const events = z.fromJSONSchema(doc.paths['/v1/consent-events']!['post']!.requestBody!.content['application/json']!.schema as never);
    const bad = { eventId: 'x-1', contact: { externalId: 'u-1' }, kind: 'marketing', channel: 'fax', value: 'opt_out', source: 'api' };
    expect(events.safeParse({ ...bad, channel: 'email' }).success).toBe(true);
    expect(events.safeParse({ ...bad, value: 'maybe', channel: 'email' }).success).toBe(false);
    const refused = await app.inject({ method: 'POST', url: '/v1/consent-events', payload: { ...bad, value: 'maybe', channel: 'email' } });
    expect(refused.statusCode).toBe(400);
    const search = z.fromJSONSchema(doc.paths['/v1/contacts/search']!['post']!.requestBody!.content['application/json']!.schema as never);
    expect(search.safeParse({ email: 'jo@example.com', password: 'x' }).success).toBe(false);
    expect((await app.inject({ method: 'POST', url: '/v1/contacts/search', payload: { email: 'jo@example.com', password: 'x' } })).statusCode).toBe(400);
  });
});
