/** Small fetch helpers for the simulator tests (real HTTP on loopback, no mocks). */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  body: unknown;
}

export async function http(url: string, init: RequestInit = {}): Promise<HttpResult> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') body = JSON.parse(text);
  return { status: res.status, headers: res.headers, text, body };
}

export function jsonInit(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function formInit(
  method: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): RequestInit {
  return {
    method,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  };
}

/** POST a JSON body to a control route and return the parsed answer. */
export async function control(baseUrl: string, path: string, body: unknown = {}): Promise<HttpResult> {
  return http(`${baseUrl}${path}`, jsonInit('POST', body));
}

export async function simState(
  baseUrl: string,
): Promise<Record<string, unknown> & { recipients: Record<string, Record<string, string>> }> {
  const res = await http(`${baseUrl}/__sim/state`);
  return res.body as Record<string, unknown> & { recipients: Record<string, Record<string, string>> };
}

/** Poll until `check` returns a value other than undefined (no fixed sleeps). */
export async function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 3000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** A webhook receiver on loopback that records every POST. */
export async function startReceiver(
  status = 200,
): Promise<{ url: string; received: ReceivedWebhook[]; close(): Promise<void> }> {
  const received: ReceivedWebhook[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, body: raw ? (JSON.parse(raw) as unknown) : null });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
