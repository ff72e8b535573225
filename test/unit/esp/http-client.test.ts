import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { classifyHttpError } from '../../../src/esp/kit/http/classify.js';
import { basicAuth, createHttpClient, safeUrlForLog } from '../../../src/esp/kit/http/client.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real HTTP server whose answer each test sets; it records what arrived. */
let server: Server;
let baseURL: string;
let seen: Seen[] = [];
let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
});

const json = (status: number, value: unknown, headers: Record<string, string> = {}) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
};

describe('createHttpClient', () => {
  it('keeps every request on the configured host: an absolute URL is only a path under the base', async () => {
    answer = json(200, {});
    const client = createHttpClient({ baseURL, timeoutMs: 1_000 });
    await client.get('https://evil.example/steal');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('/api/https://evil.example/steal');
    expect(client.urlOf('https://evil.example/steal')).toMatch(new RegExp(`^${baseURL}/`));
  });

  it('does not follow redirects: a 3xx fails the call and is classified permanent', async () => {
    answer = (_req, res) => {
      res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' });
      res.end();
    };
    const client = createHttpClient({ baseURL, timeoutMs: 1_000 });
    const err = await client.get('/x').catch((e: unknown) => e);
    expect(seen).toHaveLength(1);
    expect(classifyHttpError(err, 0, 60_000)).toMatchObject({ kind: 'permanent', status: 302 });
  });

  it('times out a request that gets no answer, as a retryable timeout', async () => {
    answer = () => {};
    const client = createHttpClient({ baseURL, timeoutMs: 100 });
    const err = await client.post('/slow', { a: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ETIMEDOUT' });
    expect(classifyHttpError(err, 0, 60_000)).toMatchObject({ kind: 'retryable', reason: expect.stringMatching(/timeout/) });
  });

  it('gives a non-2xx answer with its status and headers, so Retry-After is honoured', async () => {
    answer = json(429, { error: 'slow down' }, { 'retry-after': '7' });
    const client = createHttpClient({ baseURL, timeoutMs: 1_000 });
    const err = await client.post('/events', { a: 1 }).catch((e: unknown) => e);
    expect(classifyHttpError(err, 0, 60_000)).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 7_000 });
    expect(err).toMatchObject({ response: { status: 429, data: { error: 'slow down' } } });
  });

  it('sends JSON and form bodies with their content types, the client headers and the query', async () => {
    answer = json(200, { ok: true });
    const client = createHttpClient({ baseURL, timeoutMs: 1_000, headers: { 'X-Key': 'k' } });
    const res = await client.post('/json', { a: [1, 'é'] }, { params: { q: 'a@b.c', skip: undefined, n: 2 } });
    expect(res).toMatchObject({ status: 200, data: { ok: true } });
    await client.put('/form', new URLSearchParams({ recipientIds: 'a,b' }), { headers: { Authorization: 'Basic x', Other: undefined } });
    const [first, second] = seen;
    expect(first).toMatchObject({ method: 'POST', url: '/api/json?q=a%40b.c&n=2', body: JSON.stringify({ a: [1, 'é'] }) });
    expect(first!.headers).toMatchObject({ 'content-type': 'application/json', 'x-key': 'k', accept: 'application/json' });
    expect(second).toMatchObject({ method: 'PUT', body: 'recipientIds=a%2Cb' });
    expect(second!.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(second!.headers).toMatchObject({ authorization: 'Basic x', 'x-key': 'k' });
    expect(second!.headers).not.toHaveProperty('other');
  });

  it('sends bytes as they are (a zipped file upload), with the content type given or octet-stream', async () => {
    answer = json(200, { id: 7 });
    const client = createHttpClient({ baseURL, timeoutMs: 1_000 });
    const zip = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00]);
    await client.post('/upload', zip, { headers: { 'Content-Type': 'application/zip' } });
    await client.post('/raw', new Uint8Array([0x41, 0x42]));
    const [upload, raw] = seen;
    expect(upload).toMatchObject({ method: 'POST', body: zip.toString('utf8') });
    expect(upload!.headers).toMatchObject({ 'content-type': 'application/zip', 'content-length': '6' });
    expect(raw).toMatchObject({ body: 'AB' });
    expect(raw!.headers['content-type']).toBe('application/octet-stream');
  });

  it('keeps repeated query keys and returns text bodies as text', async () => {
    answer = (_req, res) => res.end('{"looks":"json"}');
    const client = createHttpClient({ baseURL, timeoutMs: 1_000 });
    const params = new URLSearchParams([['entries', 'a'], ['entries', 'b']]);
    const res = await client.delete('/list', { params, responseType: 'text' });
    expect(res.data).toBe('{"looks":"json"}');
    expect(seen[0]!.url).toBe('/api/list?entries=a&entries=b');
  });

  it('refuses an answer larger than maxContentLength', async () => {
    answer = (_req, res) => res.end('x'.repeat(10_000));
    const client = createHttpClient({ baseURL, timeoutMs: 1_000, maxContentLength: 1_000 });
    const err = await client.get('/big').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_BAD_RESPONSE' });
  });

  it('rejects with the abort reason when the signal fires', async () => {
    answer = () => {};
    const client = createHttpClient({ baseURL, timeoutMs: 5_000 });
    const controller = new AbortController();
    const call = client.get('/hang', { signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error('claim deadline')), 20);
    expect(await call).toMatchObject({ message: 'claim deadline' });
  });
});

describe('safeUrlForLog', () => {
  it('drops the query, masks secrets and email-looking segments', () => {
    expect(safeUrlForLog('/http/form/SECRETCODE/unsubscribe?bmRecipientId=a@b.c', ['SECRETCODE'])).toBe(
      '/http/form/***/unsubscribe',
    );
    expect(safeUrlForLog('/rest/1/blacklistentries/a%40b.c')).toBe('/rest/1/blacklistentries/[redacted]');
    expect(safeUrlForLog(undefined)).toBe('');
  });
});

describe('basicAuth', () => {
  it('encodes user:password', () => {
    expect(basicAuth('u', 'p')).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });
});
