import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConsentClient } from '../../src/client/index.js';
import { startTestApp } from '../support/app.js';
import { cliInProcess } from '../support/cli-in-process.js';
import { waitFor } from '../support/wait-for.js';

type App = Awaited<ReturnType<typeof startTestApp>>;

const cli = (app: App, args: string[]) => cliInProcess(app.ctx, args);

const ndjson = (text: string) => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('contacts without PII in URLs: search, view by id, streamed history, jobs (API, client, CLI, admin)', () => {
  let app: App;
  let client: ConsentClient;
  let contactId: string;
  let auth: string;
  const events = [
    { eventId: 'hx-1', contact: { externalId: 'hx', email: 'Hx.Person@Example.com', phone: '+44 7700 900123' }, kind: 'marketing', channel: 'email', value: 'opt_in', source: 'signup', moment: '2026-11-01T10:00:00Z' },
    { eventId: 'hx-2', contact: { externalId: 'hx' }, kind: 'marketing', channel: 'sms', value: 'opt_in', source: 'signup', moment: '2026-11-02T10:00:00Z' },
    { eventId: 'hx-3', contact: { externalId: 'hx' }, kind: 'marketing', channel: 'email', value: 'opt_out', source: 'list_unsubscribe', moment: '2026-11-03T10:00:00Z' },
    { eventId: 'other-1', contact: { externalId: 'other' }, kind: 'tracking', value: 'opt_out', source: 'app_settings', moment: '2026-11-03T11:00:00Z' },
  ];

  beforeAll(async () => {
    app = await startTestApp({ workers: 1 });
    client = new ConsentClient({ baseUrl: app.url, attempts: 1 });
    auth = `Basic ${Buffer.from(`${app.ctx.config.board.username}:${app.ctx.config.board.password}`).toString('base64')}`;
    // One at a time so the history order is the events' order.
    for (const event of events) {
      await client.record(event as never);
      await waitFor(async () => (await app.ctx.models.audit.findById(event.eventId).lean()) !== null, { what: `${event.eventId} applied` });
    }
    contactId = (await app.ctx.models.identities.findById('ext:hx').lean())!.contactId;
  });
  afterAll(async () => app?.close());

  it('finds a contact by email or phone in a POST body, and by id', async () => {
    for (const identity of [{ email: 'hx.person@example.com' }, { phone: '+447700900123' }, { externalId: 'hx' }]) {
      const found = await app.post('/v1/contacts/search', identity);
      expect(found.status, JSON.stringify(identity)).toBe(200);
      expect(found.body['contactId']).toBe(contactId);
    }
    const byId = await app.get(`/v1/contacts/by-id/${contactId}`);
    expect(byId.status).toBe(200);
    expect(byId.body['effective']).toEqual({ marketing: { email: 'opted_out', sms: 'opted_in', push: 'unknown' }, tracking: 'unknown' });
    expect((await app.post('/v1/contacts/search', { email: 'nobody@example.com' })).status).toBe(404);
    expect((await app.get('/v1/contacts/by-id/no-such-contact')).status).toBe(404);
    const empty = await app.post('/v1/contacts/search', {});
    expect(empty.status).toBe(400);
    expect(empty.body['problems']).toEqual([expect.objectContaining({ rule: expect.stringContaining('needs at least one identity') })]);
  });

  it('streams a contact\'s consent history, or every change since a time, as NDJSON', async () => {
    const res = await fetch(`${app.url}/v1/consent-history?contactId=${contactId}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    // Streamed: no length known up front.
    expect(res.headers.get('content-length')).toBeNull();
    const rows = ndjson(await res.text());
    expect(rows.map((r) => [r['eventId'], r['value'], r['outcome']])).toEqual([
      ['hx-1', 'opt_in', 'applied'],
      ['hx-2', 'opt_in', 'applied'],
      ['hx-3', 'opt_out', 'applied'],
    ]);
    expect(rows.every((r) => r['contactId'] === contactId)).toBe(true);
    const all = ndjson(await (await fetch(`${app.url}/v1/consent-history?since=2000-01-01T00:00:00Z`)).text());
    expect(all.map((r) => r['eventId'])).toEqual(['hx-1', 'hx-2', 'hx-3', 'other-1']);
    expect(ndjson(await (await fetch(`${app.url}/v1/consent-history?since=2999-01-01T00:00:00Z`)).text())).toEqual([]);
    const bad = await app.get('/v1/consent-history?since=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body['problems']).toEqual([{ field: 'since', rule: expect.stringContaining('ISO-8601') }]);
  });

  it('the client gets a contact (by identity or id; null when none) and streams its history', async () => {
    expect((await client.getContact({ email: 'HX.person@example.com' }))?.contactId).toBe(contactId);
    expect((await client.getContact({ contactId }))?.contactId).toBe(contactId);
    expect(await client.getContact({ externalId: 'nobody' })).toBeNull();
    const history = [];
    for await (const record of client.exportHistory({ contactId })) history.push(record.eventId);
    expect(history).toEqual(['hx-1', 'hx-2', 'hx-3']);
    const since = [];
    for await (const record of client.exportHistory({ since: new Date('2000-01-01T00:00:00Z') })) since.push(record.eventId);
    expect(since).toHaveLength(4);
    // Stopping early ends the request; an aborted signal stops it before it starts.
    for await (const record of client.exportHistory({ since: '2000-01-01T00:00:00Z' })) {
      expect(record.eventId).toBe('hx-1');
      break;
    }
    const stopped = new AbortController();
    stopped.abort();
    await expect(client.exportHistory({ contactId, signal: stopped.signal }).next()).rejects.toMatchObject({ name: 'AbortError' });
    await expect(async () => {
      for await (const _ of client.exportHistory({ since: 'not-a-date' })) break;
    }).rejects.toMatchObject({ status: 400 });
  });

  it('the CLI streams history by identity or contact id and shows a contact by id', async () => {
    const byEmail = await cli(app, ['history', 'email:hx.person@example.com']);
    expect(byEmail.code, byEmail.err).toBe(0);
    expect(ndjson(byEmail.out).map((r) => r['eventId'])).toEqual(['hx-1', 'hx-2', 'hx-3']);
    const byId = await cli(app, ['history', `contactId:${contactId}`, '--since', '2026-01-01T00:00:00Z']);
    expect(ndjson(byId.out)).toHaveLength(3);
    const shown = await cli(app, ['contact', `contactId:${contactId}`]);
    expect(JSON.parse(shown.out).contactId).toBe(contactId);
    const neither = await cli(app, ['history']);
    expect(neither.code).toBe(2);
    expect(neither.err).toContain('give a contact or --since');
    expect((await cli(app, ['history', 'externalId:nobody'])).code).toBe(3);
  });

  it('real answers match the OpenAPI document\'s response schemas (contact view, history lines, operator contact)', async () => {
    type Media = { schema: never; 'x-item-schema'?: never };
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, Media> }> }>> };
    const media = (path: string, type = 'application/json') => doc.paths[path]!['get']!.responses['200']!.content[type]!;
    const expectValid = (schema: never, value: unknown, what: string) => {
      const result = z.fromJSONSchema(schema).safeParse(value);
      expect(result.success, `${what}: ${result.success ? '' : JSON.stringify(result.error.issues)}`).toBe(true);
    };
    expectValid(media('/v1/contacts/by-id/{contactId}').schema, (await app.get(`/v1/contacts/by-id/${contactId}`)).body, 'contact view');
    const item = media('/v1/consent-history', 'application/x-ndjson')['x-item-schema']!;
    for (const line of ndjson(await (await fetch(`${app.url}/v1/consent-history?since=2000-01-01T00:00:00Z`)).text())) expectValid(item, line, 'history line');
    const operator = await fetch(`${app.url}/admin/consent/api/contacts/${contactId}`, { headers: { authorization: auth } });
    expectValid(media('/admin/consent/api/contacts/{contactId}').schema, await operator.json(), 'operator contact');
    const status = await fetch(`${app.url}/admin/consent/api/status`, { headers: { authorization: auth } });
    expectValid(media('/admin/consent/api/status').schema, await status.json(), 'operator status');
  });

  it('from a contact to its jobs (with Bull Board links) and from a job\'s event to its contact, on the operator API', async () => {
    const admin = async (path: string, body?: unknown) => {
      const res = await fetch(`${app.url}/admin/consent/api/${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json', 'x-requested-by': 'test' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as { contact: { contactId: string }; jobs: { queue: string; jobId: string; boardPath: string }[]; [key: string]: unknown } };
    };
    const found = await admin('contacts/search', { phone: '+44 7700 900123' });
    expect(found.body).toEqual({ contactId, contactPath: `/admin/consent/#contact=${contactId}` });
    const view = await admin(`contacts/${contactId}`);
    expect(view.body['contact'].contactId).toBe(contactId);
    const applyJobs = view.body['jobs'].filter((j) => j.queue === 'consent-apply');
    expect(applyJobs.length).toBeGreaterThanOrEqual(3);
    for (const job of applyJobs) expect(job.boardPath).toBe(`/admin/queues/queue/consent-apply/${encodeURIComponent(job.jobId)}`);
    // Each listed job really carries one of the contact's events.
    for (const job of applyJobs) {
      const data = (await app.ctx.runtime.queue('consent-apply').getJob(job.jobId))?.data as { eventIds: string[] };
      expect(data.eventIds.some((id) => id.startsWith('hx-'))).toBe(true);
    }
    expect((await admin('events/hx-2')).body).toEqual({ eventId: 'hx-2', status: 'done', contactId, contactPath: `/admin/consent/#contact=${contactId}` });
    expect((await admin('events/nope')).status).toBe(404);

    // Bull Board shows the same link in the job's data.
    const board = await fetch(`${app.url}/admin/queues/api/queues?activeQueue=consent-apply&status=completed&page=1&jobsPerPage=50`, { headers: { authorization: auth } });
    const queues = ((await board.json()) as { queues: { name: string; jobs: { data: { contactPages?: string[] } }[] }[] }).queues;
    const links = queues.find((q) => q.name === 'consent-apply')!.jobs.flatMap((j) => j.data.contactPages ?? []);
    expect(links).toContain('/admin/consent/#event=hx-2');
  });
});
