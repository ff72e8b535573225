/**
 * The simulator host: a `node:http` server on loopback with full control of status, content type, body bytes,
 * latency and connection resets. Per ESP request: log → admission (limits) → latency → fault step → ESP route.
 * Control routes (`/__sim/*`) skip logging, admission, latency and faults.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createControlRouter } from './control.js';
import type { SimulatorDefinition } from './definition.js';
import { FaultInjector } from './faults.js';
import { createSimRequest, empty, faultReply, json, notSimulated, queryObject, SimHttpError } from './reply.js';
import { describeBody, maskHeaders, RequestLog } from './request-log.js';
import type { Router } from './router.js';
import type { LoggedRequest, SimReply, SimulatorHandle } from './types.js';
import type { WebhookDispatcher } from './webhooks.js';

export interface HostOptions {
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 0 = a free port chosen by the OS. */
  port?: number;
  /** Persistent latency before every ESP answer; default 0. A fault script's `latencyMs` replaces it. */
  latencyMs?: number;
  /** Request log capacity; default 10000 (oldest dropped). */
  maxLogEntries?: number;
  /** Largest request body accepted; default 10 MiB (→ 413). */
  maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY = 10 * 1024 * 1024;

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, reply: SimReply, extraHeaders: Record<string, string> = {}): boolean {
  if (res.destroyed || res.writableEnded) return false;
  const body = reply.body ?? '';
  const headers: Record<string, string> = { ...extraHeaders, ...(reply.headers ?? {}) };
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(reply.status, headers);
  res.end(body);
  return true;
}

async function dispatch(
  router: Router,
  def: SimulatorDefinition | undefined,
  req: IncomingMessage,
  url: URL,
  raw: Buffer,
): Promise<SimReply> {
  const method = (req.method ?? 'GET').toUpperCase();
  const match = router.match(method, url.pathname);
  // A route the simulator lacks says so (501) instead of passing for the vendor's answer: a 404 or
  // 405 here once made an adapter believe the vendor has no such operation.
  if (match.kind === 'method-not-allowed')
    return notSimulated(def?.name, method, url.pathname, match.allow);
  if (match.kind === 'not-found') {
    const notFound = def?.notFound;
    return notFound ? notFound(createSimRequest(req, url, raw)) : notSimulated(def?.name, method, url.pathname);
  }
  try {
    return await match.handler(createSimRequest(req, url, raw, match.params));
  } catch (err) {
    if (err instanceof SimHttpError) return err.reply;
    return json(500, { error: 'simulator error', message: err instanceof Error ? err.message : String(err) });
  }
}

function stringHeaders(headers: Record<string, string | number> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = String(v);
  return out;
}

/** What one simulator's host keeps while it serves: the definition, the request log, faults, hung responses. */
interface HostState {
  def: SimulatorDefinition;
  log: RequestLog;
  faults: FaultInjector;
  hung: Set<ServerResponse>;
}

/**
 * One request to the ESP's API: logged (masked), admitted (the ESP's own limits), delayed or failed
 * by the scripted faults, else dispatched to the ESP's routes.
 */
async function handleEsp(
  { def, log, faults, hung }: HostState,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  raw: Buffer,
): Promise<void> {
  const started = performance.now();
  const method = (req.method ?? 'GET').toUpperCase();
  const entry: LoggedRequest = log.start({
    time: new Date().toISOString(),
    method,
    path: def.maskPath ? def.maskPath(url.pathname) : url.pathname,
    query: queryObject(url.searchParams),
    headers: maskHeaders(req.headers),
    body: describeBody(raw, String(req.headers['content-type'] ?? '')),
  });
  let release: (() => void) | undefined;
  const settle = (outcome: LoggedRequest['outcome'], status: number | null, fault: boolean): void => {
    if (entry.outcome !== 'pending') return;
    entry.outcome = outcome;
    entry.status = status;
    entry.fault = fault;
    entry.durationMs = Math.round(performance.now() - started);
    if (outcome !== 'timeout') release?.();
  };
  res.on('close', () => {
    settle('aborted', null, false);
    release?.();
    hung.delete(res);
  });
  const answer = (reply: SimReply, fault: boolean, extra: Record<string, string> = {}): void => {
    const headers = { ...(def.responseHeaders?.() ?? {}), ...extra };
    if (send(res, reply, headers)) settle('answered', reply.status, fault);
  };

  const admission = def.admission?.(method, url.pathname);
  release = admission?.release;
  if (admission?.reply) return answer(admission.reply, false);
  if (admission?.delayMs) await sleep(admission.delayMs);
  if (faults.latencyMs > 0) await sleep(faults.latencyMs);

  const step = faults.take(method, url.pathname);
  let stepHeaders: Record<string, string> = {};
  if (step) {
    if (step.delayMs) await sleep(step.delayMs);
    if (step.reset) {
      settle('reset', null, true);
      req.socket.destroy();
      return;
    }
    if (step.timeout) {
      settle('timeout', null, true);
      hung.add(res);
      return;
    }
    stepHeaders = stringHeaders(step.headers);
    if (step.status !== undefined) return answer(faultReply(step.status, step.body, stepHeaders), true);
  }
  if (res.destroyed) return;
  answer(await dispatch(def.routes, def, req, url, raw), false, stepHeaders);
}

function listen(server: ReturnType<typeof createServer>, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Start `def` on loopback and return its handle. */
export async function startSimServer(
  def: SimulatorDefinition,
  webhooks: WebhookDispatcher,
  opts: HostOptions = {},
): Promise<SimulatorHandle> {
  const log = new RequestLog(opts.maxLogEntries ?? 10000);
  const faults = new FaultInjector(opts.latencyMs ?? 0);
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const hung = new Set<ServerResponse>();
  let control: Router | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let raw: Buffer;
    try {
      raw = await readBody(req, maxBody);
    } catch (err) {
      send(res, err instanceof BodyTooLarge ? json(413, { error: 'payload too large' }) : empty(400));
      return;
    }
    if (url.pathname === '/__sim' || url.pathname.startsWith('/__sim/')) {
      const extra = def.controlRoutes;
      const useExtra =
        extra !== undefined && extra.match(req.method ?? 'GET', url.pathname).kind !== 'not-found';
      const router = useExtra ? extra : control;
      send(res, router ? await dispatch(router, undefined, req, url, raw) : json(503, { error: 'starting' }));
      return;
    }
    await handleEsp({ def, log, faults, hung }, req, res, url, raw);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      send(
        res,
        json(500, { error: 'simulator error', message: err instanceof Error ? err.message : String(err) }),
      );
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await listen(server, opts.port ?? 0, host);
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;

  const handle_: SimulatorHandle = {
    name: def.name,
    url: `http://${host}:${port}`,
    port,
    state: () => (def.hasWebhooks ? { ...def.state(), webhooks: webhooks.snapshot() } : def.state()),
    requests: () => log.list(),
    reset: () => {
      def.reset();
      log.clear();
      faults.clear();
      webhooks.clearDeliveries();
    },
    setFaults: (script) => faults.set(script),
    setWebhookTarget: (url) => webhooks.setTarget(url),
    unsubscribe: async (input) => def.unsubscribe(input),
    close: () => {
      closed ??= (async () => {
        def.close?.();
        for (const res of hung) res.destroy();
        hung.clear();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await Promise.race([webhooks.idle(), sleep(1000)]);
      })();
      return closed;
    },
  };
  control = createControlRouter(def, handle_, faults);
  return handle_;
}
