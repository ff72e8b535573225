import { randomBytes } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app/context.js';
import { scrubString, scrubValue } from '../lib/redact.js';
import { allQueueNames, ESP_QUEUE_PREFIX, QUEUE_APPLY } from '../queues/names.js';
import { safeEqual } from './basic-auth.js';
import { errorBody } from './errors.js';
import { ADMIN_BASE_PATH, boardLoginHook, setAdminPageHeaders } from './admin-common.js';

/**
 * Bull Board at /admin/queues (product.md §5, bullmq-notes.md §4, reliability.md §5.1).
 *
 * Protection, in request order, for every route under the base path (HTML, static assets, API
 * and the prefix's own 404):
 *  1. HTTP Basic auth, compared in constant time (basic-auth.ts). 401 + WWW-Authenticate otherwise.
 *  2. CSRF on every unsafe method (anything but GET/HEAD/OPTIONS): 403 unless
 *     - `Sec-Fetch-Site`, when the browser sends it, is `same-origin`;
 *     - `Origin`, when sent, names this host (Host header);
 *     - `X-XSRF-TOKEN` equals the `XSRF-TOKEN` cookie (double-submit). The board issues that
 *       cookie (SameSite=Strict, Path=/admin/queues) on its GET responses, and the board UI's
 *       axios client copies it into the `X-XSRF-TOKEN` header of every same-origin request by
 *       itself (axios defaults xsrfCookieName/xsrfHeaderName). A cross-site page can neither read
 *       the cookie nor add a custom header without a CORS preflight, which this server never
 *       grants, and basic-auth credentials the browser attaches by itself are therefore useless to it.
 *  3. Read-only mode (BullMQAdapter `readOnlyMode`) for the consent-apply and esp-sync-* queues
 *     when BOARD_READ_ONLY is on: every queue-scoped write answers 405 and retries are disabled.
 *     No one deletes or forges pending opt-outs from a browser. reconcile and maintenance stay
 *     writable (behind 1 and 2) so an operator can retry a failed reconciliation.
 *  4. PII: job name, data, return value, progress, options, failedReason, stacktrace, logs, flow
 *     nodes and scheduler templates go through scrubValue/scrubString (src/lib/redact.ts): the
 *     adapter formatters handle data/returnValue/progress/name, and an `after` handler hook
 *     handles the fields Bull Board has no formatter for (failedReason, stacktrace, opts, logs…).
 */

export const BOARD_BASE_PATH = '/admin/queues';
const ADMIN_PAGE = `${ADMIN_BASE_PATH}/`;
export const XSRF_COOKIE = 'XSRF-TOKEN';
export const XSRF_HEADER = 'x-xsrf-token';

type BoardOptions = NonNullable<Parameters<typeof createBullBoard>[0]['options']>;
type ServerAdapter = Parameters<typeof createBullBoard>[0]['serverAdapter'];
type AfterHook = NonNullable<NonNullable<BoardOptions['handlerHooks']>['after']>;
type Json = Record<string, unknown>;

/** Queues no one may modify from the board when BOARD_READ_ONLY is on. */
export function isProtectedQueue(name: string): boolean {
  return name === QUEUE_APPLY || name.startsWith(ESP_QUEUE_PREFIX);
}

export function enabledEspNames(ctx: Pick<AppContext, 'config'>): string[] {
  return Object.values(ctx.config.esps)
    .filter((settings) => settings.enabled)
    .map((settings) => settings.esp);
}

// ---------------------------------------------------------------------------------------------
// PII redaction of board responses

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const scrubText = (value: unknown): unknown =>
  typeof value === 'string' ? scrubString(value) : scrubValue(value);

/** A job as the board API returns it, with every free-text or payload field scrubbed. Ids are kept so links work. */
export function redactBoardJob(job: unknown): unknown {
  if (!isObject(job)) return job;
  const out: Json = { ...job };
  for (const key of [
    'name',
    'data',
    'returnValue',
    'progress',
    'opts',
    'failedReason',
    'stacktrace',
    'deduplicationId',
    'deferredFailure',
  ]) {
    if (key in out) out[key] = scrubText(out[key]);
  }
  return out;
}

function redactFlowNode(node: unknown): unknown {
  if (!isObject(node)) return node;
  const out: Json = { ...node };
  for (const key of ['name', 'progress', 'ignoredChildFailureReasons']) {
    if (key in out) out[key] = scrubText(out[key]);
  }
  if (Array.isArray(out['children'])) out['children'] = out['children'].map(redactFlowNode);
  return out;
}

/** Scrubs a board API response body, by route pattern (the `after` hook's `context.route`). */
export function redactBoardResponse(route: string, body: unknown): unknown {
  if (Array.isArray(body)) return route.endsWith('/logs') ? body.map(scrubText) : body;
  if (!isObject(body)) return body;
  const out: Json = { ...body };
  if (Array.isArray(out['queues'])) {
    out['queues'] = out['queues'].map((queue) =>
      isObject(queue) && Array.isArray(queue['jobs'])
        ? { ...queue, jobs: queue['jobs'].map(redactBoardJob) }
        : queue,
    );
  }
  if ('job' in out) out['job'] = redactBoardJob(out['job']);
  if ('flowRoot' in out) out['flowRoot'] = redactFlowNode(out['flowRoot']);
  if (Array.isArray(out['schedulers'])) {
    out['schedulers'] = out['schedulers'].map((s) =>
      isObject(s) ? { ...s, name: scrubText(s['name']), template: scrubValue(s['template']) } : s,
    );
  }
  if (typeof out['message'] === 'string') out['message'] = scrubString(out['message']);
  if (typeof out['details'] === 'string') out['details'] = scrubString(out['details']);
  return out;
}

const redactingAfterHook: AfterHook = (context, result) => ({
  ...result,
  body: redactBoardResponse(context.route, result.body) as typeof result.body,
});

/** Links shown per job: enough to reach the contacts of a small job; a big one lists its first few. */
const MAX_LINKS = 20;

/**
 * A job's data with `contactPages`: the operator page of each contact the job carries (push jobs
 * name contact ids; apply jobs name event ids, which the page resolves to their contact).
 */
export function withContactLinks(raw: unknown, shown: unknown): unknown {
  if (!isObject(raw) || !isObject(shown)) return shown;
  const ids = (key: string) => (Array.isArray(raw[key]) ? raw[key].filter((v): v is string => typeof v === 'string') : []);
  const links = [
    ...ids('contactIds').map((id) => `${ADMIN_PAGE}#contact=${encodeURIComponent(id)}`),
    ...ids('eventIds').map((id) => `${ADMIN_PAGE}#event=${encodeURIComponent(id)}`),
  ];
  if (links.length === 0) return shown;
  const more = links.length - MAX_LINKS;
  return { ...shown, contactPages: more > 0 ? [...links.slice(0, MAX_LINKS), `… ${more} more`] : links };
}

function queueAdapter(ctx: AppContext, name: string): BullMQAdapter {
  const readOnly = ctx.config.board.readOnly && isProtectedQueue(name);
  const adapter = new BullMQAdapter(ctx.runtime.queue(name), {
    readOnlyMode: readOnly,
    allowRetries: !readOnly,
    description: readOnly ? 'read-only: consent data, changes only through the API and workers' : '',
  });
  adapter.setFormatter('data', (data: unknown) => withContactLinks(data, scrubValue(data)));
  adapter.setFormatter('returnValue', (value: unknown) => scrubValue(value));
  adapter.setFormatter('progress', (progress: unknown) => scrubValue(progress));
  adapter.setFormatter('name', (job: { name?: unknown }) =>
    typeof job.name === 'string' ? scrubString(job.name) : '',
  );
  return adapter;
}

// ---------------------------------------------------------------------------------------------
// CSRF

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    if (name && !(name in cookies)) {
      try {
        cookies[name] = decodeURIComponent(raw);
      } catch {
        cookies[name] = raw;
      }
    }
  }
  return cookies;
}

const first = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value;

/** Why an unsafe request is refused as a possible cross-site request forgery, or null when it is allowed. */
export function csrfRejection(headers: FastifyRequest['headers']): string | null {
  const fetchSite = first(headers['sec-fetch-site']);
  if (fetchSite !== undefined && fetchSite !== 'same-origin') return `Sec-Fetch-Site is ${fetchSite}`;
  const origin = first(headers.origin);
  if (origin !== undefined) {
    let originHost: string | null = null;
    try {
      originHost = origin === 'null' ? null : new URL(origin).host;
    } catch {
      originHost = null;
    }
    if (!originHost || originHost !== first(headers.host)) return 'Origin is not this site';
  }
  const cookie = parseCookies(first(headers.cookie))[XSRF_COOKIE];
  const header = first(headers[XSRF_HEADER]);
  if (!cookie || !header || !TOKEN_SHAPE.test(cookie))
    return `missing ${XSRF_COOKIE} cookie or X-XSRF-TOKEN header`;
  if (!safeEqual(header, cookie)) return 'X-XSRF-TOKEN does not match the XSRF-TOKEN cookie';
  return null;
}

function xsrfCookie(request: FastifyRequest): string {
  const token = randomBytes(32).toString('base64url');
  const secure = request.protocol === 'https' ? '; Secure' : '';
  // Not HttpOnly: the board's own script reads it to send it back as X-XSRF-TOKEN.
  return `${XSRF_COOKIE}=${token}; Path=${BOARD_BASE_PATH}; SameSite=Strict${secure}`;
}

async function csrfHook(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (SAFE_METHODS.has(request.method)) {
    const existing = parseCookies(request.headers.cookie)[XSRF_COOKIE];
    if (!existing || !TOKEN_SHAPE.test(existing)) reply.header('set-cookie', xsrfCookie(request));
    return undefined;
  }
  const reason = csrfRejection(request.headers);
  if (reason === null) return undefined;
  request.log.warn(
    { method: request.method, url: request.url.split('?')[0], reason },
    'board write refused (CSRF)',
  );
  return reply
    .code(403)
    .send(errorBody('csrf_rejected', `cross-site or token-less write refused: ${reason}`));
}

// ---------------------------------------------------------------------------------------------

/**
 * Mounts Bull Board at /admin/queues for every queue of `allQueueNames(enabled ESPs)` (or
 * `opts.queueNames`). Call before the app listens.
 */
export async function registerBoard(
  app: FastifyInstance,
  ctx: AppContext,
  opts: { queueNames?: string[] } = {},
): Promise<void> {
  const names = opts.queueNames ?? allQueueNames(enabledEspNames(ctx));
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_BASE_PATH);
  createBullBoard({
    queues: names.map((name) => queueAdapter(ctx, name)),
    // @bull-board/fastify 9.10.1 pins its own @bull-board/api 9.10.1 (types only; nothing of it is
    // loaded at run time), whose private fields make the two declarations nominally different.
    serverAdapter: serverAdapter as unknown as ServerAdapter,
    options: {
      uiConfig: {
        boardTitle: `consent-sync (${ctx.config.env})`,
        hideDocsLink: true,
        miscLinks: [{ text: 'Dead letters, paused ESPs, contacts', url: ADMIN_PAGE }],
        pollingInterval: { forceInterval: 5_000 },
      },
      handlerHooks: { after: redactingAfterHook },
    },
  });

  await app.register(
    async (scope) => {
      scope.addHook('onRequest', boardLoginHook(ctx.config.board));
      scope.addHook('onRequest', csrfHook);
      scope.addHook('onSend', async (request, reply, payload) => {
        // Job data and queue state are never cached; the hashed UI bundle may be (privately).
        const isAsset = request.url.startsWith(`${BOARD_BASE_PATH}/static/`) && reply.statusCode === 200;
        reply.header('cache-control', isAsset ? 'private, max-age=3600' : 'no-store');
        setAdminPageHeaders(reply);
        return payload;
      });
      // Unknown paths under the prefix also go through the hooks above (no unauthenticated 404 probing).
      scope.setNotFoundHandler((request, reply) =>
        reply
          .code(404)
          .send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
      );
      await scope.register(serverAdapter.registerPlugin());
    },
    { prefix: BOARD_BASE_PATH },
  );
}
