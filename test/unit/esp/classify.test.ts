import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyHttpError } from '../../../src/esp/kit/http/classify.js';
import { HttpStatusError, HttpTransportError } from '../../../src/esp/kit/http/client.js';
import { EspError } from '../../../src/esp/kit/http/errors.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const CAP = 900_000;
const KINDS = ['retryable', 'rate_limited', 'permanent', 'auth'];

/** What the ESP HTTP client (esp/kit/http/client.ts) throws: a status error, or a transport error with its code. */
function clientError(
  status: number | undefined,
  headers: Record<string, string> = {},
  code?: string,
): Error {
  if (status === undefined) return new HttpTransportError('POST /v1/x failed', code ?? 'ERR_NETWORK');
  return new HttpStatusError('POST', '/v1/x', { status, headers, data: 'token=c2VjcmV0' });
}

describe('classifyHttpError properties', () => {
  const anything = fc.oneof(
    fc.anything(),
    fc.record({
      status: fc.integer({ min: -10, max: 1_000 }),
      headers: fc.dictionary(fc.string(), fc.string()),
    }),
    fc.record({
      response: fc.record({ status: fc.oneof(fc.integer(), fc.string()), headers: fc.anything() }),
    }),
    fc.record({ code: fc.oneof(fc.string(), fc.constantFrom('ECONNRESET', 'ETIMEDOUT', 'ERR_NETWORK')) }),
  );

  it('never throws; kind is one of four; retryAfterMs within [0, cap]', () => {
    fc.assert(
      fc.property(anything, fc.double(), fc.integer({ min: 0, max: 10_000_000 }), (err, now, cap) => {
        const c = classifyHttpError(err, now, cap);
        expect(KINDS).toContain(c.kind);
        expect(typeof c.reason).toBe('string');
        if (c.retryAfterMs !== undefined) {
          expect(c.retryAfterMs).toBeGreaterThanOrEqual(0);
          expect(c.retryAfterMs).toBeLessThanOrEqual(cap);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('every status maps to the documented kind', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), (status) => {
        const { kind } = classifyHttpError({ status, headers: {} }, NOW, CAP);
        const expected =
          status === 401 || status === 403
            ? 'auth'
            : status === 429
              ? 'rate_limited'
              : status === 408 || status === 425 || status >= 500
                ? 'retryable'
                : 'permanent';
        expect(kind).toBe(expected);
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('classifyHttpError table', () => {
  it.each([
    [408, 'retryable'],
    [425, 'retryable'],
    [429, 'rate_limited'],
    [500, 'retryable'],
    [502, 'retryable'],
    [503, 'retryable'],
    [504, 'retryable'],
    [400, 'permanent'],
    [404, 'permanent'],
    [406, 'permanent'],
    [409, 'permanent'],
    [422, 'permanent'],
    [401, 'auth'],
    [403, 'auth'],
    [301, 'permanent'],
  ] as const)('HTTP %i → %s', (status, kind) => {
    const c = classifyHttpError(clientError(status), NOW, CAP);
    expect(c).toMatchObject({ kind, status });
  });

  it('429 with Retry-After seconds and with an HTTP-date', () => {
    expect(classifyHttpError(clientError(429, { 'retry-after': '7' }), NOW, CAP).retryAfterMs).toBe(7_000);
    const date = new Date(NOW + 10_000).toUTCString();
    expect(classifyHttpError(clientError(429, { 'retry-after': date }), NOW, CAP).retryAfterMs).toBe(10_000);
    expect(classifyHttpError(clientError(429), NOW, CAP).retryAfterMs).toBeUndefined();
  });

  it('503 keeps its Retry-After', () => {
    expect(classifyHttpError(clientError(503, { 'retry-after': '3' }), NOW, CAP)).toMatchObject({
      kind: 'retryable',
      retryAfterMs: 3_000,
    });
  });

  it.each(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ECONNABORTED', 'ERR_NETWORK', 'EAI_AGAIN', 'EPIPE'])(
    'network code %s → retryable',
    (code) => {
      expect(classifyHttpError(clientError(undefined, {}, code), NOW, CAP).kind).toBe('retryable');
      expect(classifyHttpError(Object.assign(new Error('x'), { code }), NOW, CAP).kind).toBe('retryable');
    },
  );

  it('a timeout says so in its reason', () => {
    expect(classifyHttpError(clientError(undefined, {}, 'ETIMEDOUT'), NOW, CAP).reason).toMatch(/timeout/);
  });

  it('a plain programming error is permanent (retrying would hide the bug)', () => {
    expect(classifyHttpError(new TypeError('x is undefined'), NOW, CAP).kind).toBe('permanent');
  });

  it('an EspError keeps its own kind', () => {
    const err = new EspError('ometria', 'rate_limited', 'slow down', { status: 429, retryAfterMs: 1234 });
    expect(classifyHttpError(err, NOW, CAP)).toMatchObject({
      kind: 'rate_limited',
      status: 429,
      retryAfterMs: 1234,
    });
  });

  it('the reason never carries the response body (it may echo credentials)', () => {
    const c = classifyHttpError(clientError(401), NOW, CAP);
    expect(JSON.stringify(c)).not.toContain('c2VjcmV0');
  });
});
