import { describe, expect, it } from 'vitest';
import {
  csrfRejection,
  isProtectedQueue,
  parseCookies,
  redactBoardJob,
  redactBoardResponse,
  XSRF_COOKIE,
} from '../../../src/web/board.js';

const EMAIL = 'jo.doe@example.com';
const PHONE = '+49 151 2345 6789';
const TOKEN = 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v'; // 43 base64url characters

describe('isProtectedQueue', () => {
  it('covers consent-apply and every esp-sync queue, not reconcile or maintenance', () => {
    expect(isProtectedQueue('consent-apply')).toBe(true);
    expect(isProtectedQueue('esp-sync-crossengage')).toBe(true);
    expect(isProtectedQueue('esp-sync-optimizely-campaign')).toBe(true);
    expect(isProtectedQueue('reconcile')).toBe(false);
    expect(isProtectedQueue('maintenance')).toBe(false);
  });
});

describe('parseCookies', () => {
  it('parses name=value pairs, keeping the first of duplicates', () => {
    expect(parseCookies(`a=1; ${XSRF_COOKIE}=${TOKEN}; b=x%20y; a=2`)).toEqual({
      a: '1',
      [XSRF_COOKIE]: TOKEN,
      b: 'x y',
    });
    expect(parseCookies(undefined)).toEqual({});
    expect(parseCookies('garbage; =x; y')).toEqual({});
    expect(parseCookies('bad=%E0%A4%A')).toEqual({ bad: '%E0%A4%A' });
  });
});

describe('csrfRejection', () => {
  const good = {
    host: 'board.internal:3000',
    origin: 'https://board.internal:3000',
    'sec-fetch-site': 'same-origin',
    cookie: `${XSRF_COOKIE}=${TOKEN}`,
    'x-xsrf-token': TOKEN,
  };

  it('allows a same-origin request carrying the double-submit token', () => {
    expect(csrfRejection(good)).toBeNull();
  });

  it('allows a client that sends neither Origin nor Sec-Fetch-Site (curl), as long as it has the token', () => {
    const { origin: _o, 'sec-fetch-site': _s, ...rest } = good;
    expect(csrfRejection(rest)).toBeNull();
  });

  it('refuses cross-site signals and missing or mismatched tokens', () => {
    const cases: Record<string, Record<string, string | undefined>> = {
      'cross-site': { 'sec-fetch-site': 'cross-site' },
      'same-site': { 'sec-fetch-site': 'same-site' },
      none: { 'sec-fetch-site': 'none' },
      'foreign origin': { origin: 'https://evil.example' },
      'other port': { origin: 'https://board.internal:3001' },
      'opaque origin': { origin: 'null' },
      'unparsable origin': { origin: 'not a url' },
      'no header': { 'x-xsrf-token': undefined },
      'no cookie': { cookie: undefined },
      'other cookie only': { cookie: 'session=1' },
      mismatch: { 'x-xsrf-token': TOKEN.replace('A', 'B') },
      'short token': { cookie: `${XSRF_COOKIE}=abc`, 'x-xsrf-token': 'abc' },
    };
    for (const [what, change] of Object.entries(cases)) {
      const headers = { ...good, ...change };
      for (const key of Object.keys(headers) as (keyof typeof headers)[])
        if (headers[key] === undefined) delete headers[key];
      expect(csrfRejection(headers), what).not.toBeNull();
    }
  });
});

describe('redactBoardJob / redactBoardResponse', () => {
  const job = {
    id: '12345678901',
    name: `push ${EMAIL}`,
    timestamp: 1_763_640_000_000,
    data: { email: EMAIL, note: `call ${PHONE}`, token: 'abc' },
    returnValue: { pushed: EMAIL },
    progress: { last: EMAIL },
    opts: { attempts: 3, deduplication: { id: EMAIL } },
    failedReason: `rejected ${EMAIL}`,
    stacktrace: [`Error: rejected ${EMAIL}\n    at x (file.js:1:1)`],
    deduplicationId: EMAIL,
  };

  it('scrubs every free-text and payload field, keeping the id and numbers', () => {
    const out = redactBoardJob(job) as typeof job;
    expect(out.id).toBe('12345678901');
    expect(out.timestamp).toBe(job.timestamp);
    expect(out.opts.attempts).toBe(3);
    expect(JSON.stringify(out)).not.toContain('example.com');
    expect(JSON.stringify(out)).not.toContain('2345 6789');
    expect(out.data).toEqual({ email: '[redacted]', note: 'call [redacted]', token: '[redacted]' });
    expect(out.failedReason).toBe('rejected [redacted]');
    expect(job.data.email).toBe(EMAIL); // the input is not modified
  });

  it('walks the shapes of the board API: queue list, one job, logs, flow, schedulers, errors', () => {
    const bodies: [string, unknown][] = [
      [
        '/api/queues',
        { queues: [{ name: 'consent-apply', counts: { waiting: 1 }, jobs: [job] }, { name: 'x' }] },
      ],
      ['/api/queues/:queueName/:jobId', { job, status: 'failed' }],
      ['/api/queues/:queueName/:jobId/logs', [`looked up ${EMAIL}`]],
      [
        '/api/queues/:queueName/:jobId/flow',
        {
          nodeId: '1',
          flowRoot: {
            id: '1',
            name: EMAIL,
            children: [{ id: '2', name: 'c', ignoredChildFailureReasons: { x: EMAIL }, children: [] }],
          },
        },
      ],
      ['/api/job-schedulers', { schedulers: [{ id: 's', name: 'n', template: { data: { email: EMAIL } } }] }],
      ['/api/queues/:queueName/add', { error: { key: 'ERRORS.X' }, message: `bad ${EMAIL}` }],
    ];
    for (const [route, body] of bodies) {
      const out = JSON.stringify(redactBoardResponse(route, body));
      expect(out, route).not.toContain('example.com');
      expect(out, route).toContain('[redacted]');
    }
    const list = redactBoardResponse('/api/queues', bodies[0]![1]) as {
      queues: { name: string; jobs?: { id: string }[] }[];
    };
    expect(list.queues.map((q) => q.name)).toEqual(['consent-apply', 'x']);
    expect(list.queues[0]!.jobs![0]!.id).toBe('12345678901');
  });

  it('leaves other bodies alone', () => {
    const stats = { version: '7.0.15', memory: { used: 1_048_576 } };
    expect(redactBoardResponse('/api/redis/stats', stats)).toEqual(stats);
    expect(redactBoardResponse('/api/queues/:queueName/workers', ['w1'])).toEqual(['w1']);
  });
});
