import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allQueueNames } from '../../src/queues/names.js';
import { BOARD_BASE_PATH, XSRF_COOKIE } from '../../src/web/board.js';
import {
  BOARD_USER,
  basicAuth,
  PII,
  PII_NEEDLES,
  seedPiiJobs,
  startBoardApp,
} from '../browser/board-fixture.js';

type BoardApp = Awaited<ReturnType<typeof startBoardApp>>;
type Init = Omit<RequestInit, 'headers'> & { headers?: Record<string, string> };

describe('Bull Board at /admin/queues', () => {
  let board: BoardApp;
  let xsrf: string;

  const request = (path: string, init: Init = {}) =>
    fetch(`${board.url}${BOARD_BASE_PATH}${path}`, { redirect: 'manual', ...init });
  const authed = (path: string, init: Init = {}) =>
    request(path, { ...init, headers: { authorization: board.auth, ...init.headers } });
  /** A write as the board UI makes it: same origin, XSRF cookie copied into X-XSRF-TOKEN. */
  const write = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    authed(path, {
      method,
      headers: {
        origin: board.url,
        'sec-fetch-site': 'same-origin',
        cookie: `${XSRF_COOKIE}=${xsrf}`,
        'x-xsrf-token': xsrf,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    board = await startBoardApp();
    await seedPiiJobs(board.ctx);
    const res = await authed('/');
    const cookie = res.headers.get('set-cookie') ?? '';
    xsrf = /XSRF-TOKEN=([^;]+)/.exec(cookie)?.[1] ?? '';
  });
  afterAll(async () => board?.close());

  describe('basic auth on every path under the prefix', () => {
    it('401 with a Basic challenge without credentials', async () => {
      const res = await request('/');
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="consent-sync board"/);
      expect(await res.text()).not.toContain('<html');
    });

    it('401 with a wrong password, a wrong user name, or a malformed header', async () => {
      for (const authorization of [
        basicAuth(BOARD_USER, 'wrong-password'),
        basicAuth('admin', board.ctx.config.board.password),
        basicAuth(BOARD_USER, `${board.ctx.config.board.password}x`),
        'Basic not-base64!',
        `Bearer ${board.ctx.config.board.password}`,
      ]) {
        const res = await request('/', { headers: { authorization } });
        expect(res.status, authorization).toBe(401);
      }
    });

    it('200 with the right credentials, and the page issues the XSRF cookie', async () => {
      const res = await authed('/');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(await res.text()).toContain('consent-sync (test)');
      expect(xsrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(res.headers.get('set-cookie')).toMatch(/Path=\/admin\/queues; SameSite=Strict/);
    });

    it('protects the static assets, the API, deep links and unknown paths alike', async () => {
      const html = await (await authed('/')).text();
      const asset = /src="(static\/js\/[^"]+\.js)"/.exec(html)?.[1];
      expect(asset).toBeDefined();
      for (const path of [
        `/${asset}`,
        '/api/queues',
        '/queue/consent-apply',
        '/queue/consent-apply/pii-apply-1',
        '/nope',
        '/static/nope.js',
      ]) {
        expect((await request(path)).status, path).toBe(401);
      }
      expect((await authed(`/${asset}`)).status).toBe(200);
      expect((await authed('/api/queues')).status).toBe(200);
      expect((await authed('/nope')).status).toBe(404);
      // A write without credentials is a 401 too (auth runs before the CSRF check)
      expect((await request('/api/queues/maintenance/pause', { method: 'PUT' })).status).toBe(401);
    });
  });

  describe('queues and PII', () => {
    it('lists every queue: consent-apply, two per enabled ESP (lane 1 and the others), reconcile, maintenance', async () => {
      const res = await authed('/api/queues');
      const body = (await res.json()) as {
        queues: { name: string; readOnlyMode: boolean; allowRetries: boolean }[];
      };
      const expected = allQueueNames(['crossengage', 'ometria']);
      expect(body.queues.map((q) => q.name).sort()).toEqual([...expected].sort());
      const readOnly = Object.fromEntries(body.queues.map((q) => [q.name, q.readOnlyMode]));
      expect(readOnly).toEqual({
        'consent-apply': true,
        'esp-sync-crossengage': true,
        'esp-sync-ometria': true,
        'esp-sync-first-crossengage': true,
        'esp-sync-first-ometria': true,
        reconcile: false,
        maintenance: false,
      });
      expect(body.queues.find((q) => q.name === 'consent-apply')?.allowRetries).toBe(false);
      // what the fixture relies on to avoid mounting the board twice once createApp mounts it
      expect(board.app.hasRoute({ method: 'GET', url: `${BOARD_BASE_PATH}/api/queues` })).toBe(true);
    });

    it('shows jobs with their ids but no email, phone or token: data, return value, failure, stack, logs', async () => {
      const pages = [
        '/api/queues?activeQueue=consent-apply&status=latest&page=1&jobsPerPage=10',
        '/api/queues?activeQueue=esp-sync-crossengage&status=waiting&page=1&jobsPerPage=10',
        '/api/queues?activeQueue=maintenance&status=latest&page=1&jobsPerPage=10',
        '/api/queues?activeQueue=maintenance&status=failed&page=1&jobsPerPage=10',
        '/api/queues/consent-apply/pii-apply-1',
        '/api/queues/maintenance/pii-ok-1',
        '/api/queues/maintenance/pii-fail-1',
        '/api/queues/maintenance/pii-fail-1/logs',
        '/api/queues/maintenance/pii-fail-1/flow',
      ];
      for (const path of pages) {
        const res = await authed(path);
        expect(res.status, path).toBe(200);
        const text = await res.text();
        for (const needle of PII_NEEDLES) expect(text, `${path} leaks ${needle}`).not.toContain(needle);
      }
      const apply = (await (await authed('/api/queues/consent-apply/pii-apply-1')).json()) as {
        job: Record<string, unknown>;
      };
      expect(apply.job['id']).toBe('pii-apply-1');
      expect(apply.job['data']).toEqual({
        eventId: 'evt-pii-1',
        contact: { email: '[redacted]', phone: '[redacted]' },
        note: 'call [redacted] or write to [redacted]',
        token: '[redacted]',
      });
      const failed = (await (await authed('/api/queues/maintenance/pii-fail-1')).json()) as {
        job: Record<string, unknown>;
        status: string;
      };
      expect(failed.status).toBe('failed');
      expect(failed.job['failedReason']).toBe(
        'ESP rejected [redacted] ([redacted]), Authorization: Bearer [redacted]',
      );
      expect((failed.job['stacktrace'] as string[]).join('\n')).toContain('ESP rejected [redacted]');
      const done = (await (await authed('/api/queues/maintenance/pii-ok-1')).json()) as {
        job: Record<string, unknown>;
      };
      expect(done.job['returnValue']).toEqual({ pushed: '[redacted]', note: 'sms sent to [redacted]' });
      const logs = (await (await authed('/api/queues/maintenance/pii-fail-1/logs')).json()) as string[];
      expect(logs).toEqual(['looked up [redacted]']);
    });

    it('the raw job in Redis still holds the data (the board redacts, it does not rewrite)', async () => {
      const job = await board.ctx.runtime.queue('consent-apply').getJob('pii-apply-1');
      expect(job?.data.contact.email).toBe(PII.email);
    });
  });

  describe('write protection', () => {
    it('read-only queues refuse every write with 405, and the jobs stay', async () => {
      const writes: [string, string, unknown?][] = [
        ['PUT', '/api/queues/consent-apply/retry/failed'],
        ['PUT', '/api/queues/consent-apply/clean/wait'],
        ['PUT', '/api/queues/consent-apply/empty'],
        ['PUT', '/api/queues/consent-apply/obliterate', { force: true }],
        ['PUT', '/api/queues/consent-apply/pause'],
        ['PUT', '/api/queues/consent-apply/promote'],
        ['PUT', '/api/queues/consent-apply/pii-apply-1/clean'],
        ['PUT', '/api/queues/consent-apply/pii-apply-1/retry'],
        ['PATCH', '/api/queues/consent-apply/pii-apply-1/update-data', { jobData: { eventId: 'forged' } }],
        [
          'POST',
          '/api/queues/consent-apply/add',
          { name: 'apply-consent-event', data: { eventId: 'forged' } },
        ],
        ['PUT', '/api/queues/esp-sync-crossengage/empty'],
        ['PUT', '/api/queues/esp-sync-crossengage/pii-push-1/clean'],
        ['PUT', '/api/queues/esp-sync-ometria/pause'],
        ['PUT', '/api/queues/esp-sync-ometria/concurrency', { concurrency: 1 }],
      ];
      for (const [method, path, body] of writes) {
        const res = await write(method, path, body);
        expect(res.status, `${method} ${path}`).toBe(405);
      }
      expect(await board.ctx.runtime.queue('consent-apply').getJobState('pii-apply-1')).toBe('waiting');
      expect(await board.ctx.runtime.queue('consent-apply').isPaused()).toBe(false);
      expect(await board.ctx.runtime.queue('consent-apply').getJob('forged')).toBeUndefined();
      expect(await board.ctx.runtime.queue('esp-sync-crossengage').getJobState('pii-push-1')).toBe('waiting');
      expect(await board.ctx.runtime.queue('esp-sync-ometria').isPaused()).toBe(false);
    });

    it('"pause all" skips the read-only queues', async () => {
      expect((await write('PUT', '/api/queues/pause')).status).toBe(200);
      expect(await board.ctx.runtime.queue('consent-apply').isPaused()).toBe(false);
      expect(await board.ctx.runtime.queue('esp-sync-crossengage').isPaused()).toBe(false);
      expect(await board.ctx.runtime.queue('maintenance').isPaused()).toBe(true);
      expect((await write('PUT', '/api/queues/resume')).status).toBe(200);
      expect(await board.ctx.runtime.queue('maintenance').isPaused()).toBe(false);
    });

    it('a writable queue accepts a same-origin write carrying the XSRF token', async () => {
      expect((await write('PUT', '/api/queues/reconcile/pause')).status).toBe(200);
      expect(await board.ctx.runtime.queue('reconcile').isPaused()).toBe(true);
      expect((await write('PUT', '/api/queues/reconcile/resume')).status).toBe(200);
      expect(await board.ctx.runtime.queue('reconcile').isPaused()).toBe(false);
    });

    it('refuses cross-origin and token-less writes with 403, even with valid credentials', async () => {
      const cases: [string, Record<string, string>][] = [
        ['foreign Origin', { origin: 'https://evil.example' }],
        ['sibling port Origin', { origin: 'http://127.0.0.1:1' }],
        ['opaque Origin', { origin: 'null' }],
        ['cross-site fetch', { 'sec-fetch-site': 'cross-site' }],
        ['same-site fetch', { 'sec-fetch-site': 'same-site' }],
        ['no X-XSRF-TOKEN', { 'x-xsrf-token': '' }],
        ['no cookie', { cookie: '' }],
        ['token not matching the cookie', { 'x-xsrf-token': 'A'.repeat(43) }],
        [
          'attacker-chosen cookie and header of another shape',
          { cookie: `${XSRF_COOKIE}=x`, 'x-xsrf-token': 'x' },
        ],
      ];
      for (const [what, headers] of cases) {
        const res = await write(
          'POST',
          '/api/queues/reconcile/add',
          { name: 'reconcile', data: { forged: true } },
          headers,
        );
        expect(res.status, what).toBe(403);
        expect(((await res.json()) as { error: string }).error).toBe('csrf_rejected');
      }
      // A classic cross-site form post: no custom header, foreign Origin, text/plain body
      const form = await authed('/api/queues/reconcile/pause', {
        method: 'PUT',
        headers: {
          origin: 'https://evil.example',
          'content-type': 'text/plain',
          cookie: `${XSRF_COOKIE}=${xsrf}`,
        },
        body: 'x',
      });
      expect(form.status).toBe(403);
      expect(await board.ctx.runtime.queue('reconcile').count()).toBe(0);
      expect(await board.ctx.runtime.queue('reconcile').isPaused()).toBe(false);
    });
  });
});

describe('Bull Board with BOARD_READ_ONLY=false', () => {
  let board: BoardApp;
  beforeAll(async () => {
    board = await startBoardApp({ BOARD_READ_ONLY: 'false' });
  });
  afterAll(async () => board?.close());

  it('every queue is writable, still behind auth and CSRF', async () => {
    const body = (await (
      await fetch(`${board.url}${BOARD_BASE_PATH}/api/queues`, { headers: { authorization: board.auth } })
    ).json()) as {
      queues: { name: string; readOnlyMode: boolean }[];
    };
    expect(body.queues.every((q) => !q.readOnlyMode)).toBe(true);
    const cross = await fetch(`${board.url}${BOARD_BASE_PATH}/api/queues/consent-apply/pause`, {
      method: 'PUT',
      headers: { authorization: board.auth, origin: 'https://evil.example' },
    });
    expect(cross.status).toBe(403);
    expect(await board.ctx.runtime.queue('consent-apply').isPaused()).toBe(false);
  });
});
