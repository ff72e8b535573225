import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../../src/esp/kit/http/retry-after.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const CAP = 900_000;
const RUNS = { numRuns: 2_000 };

const headerName = fc.constantFrom(
  'Retry-After',
  'retry-after',
  'RETRY-AFTER',
  'X-RateLimit-Reset',
  'ratelimit-reset',
  'x-rate-limit-reset',
  'RateLimit',
  'X-Other',
);
const headerValue = fc.oneof(
  fc.string(),
  fc.integer({ min: -1e13, max: 1e13 }).map(String),
  fc.double({ noNaN: false }).map(String),
  fc
    .date({ noInvalidDate: false })
    .map((d) => (Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toUTCString())),
  fc.constantFrom(
    '',
    ' ',
    '-5',
    '1e3',
    'NaN',
    'Infinity',
    'reset=5',
    'limit=10, remaining=0, reset=7',
    '0x10',
  ),
);
const anyHeaders = fc.oneof(
  fc.dictionary(
    headerName,
    fc.oneof(headerValue, fc.array(headerValue, { maxLength: 3 }), fc.integer(), fc.constant(null)),
  ),
  fc.constantFrom(undefined, null, 42, 'Retry-After: 5', [], new Map([['retry-after', '5']])),
);

describe('parseRetryAfter properties', () => {
  it('never throws and stays within [0, cap] for any headers, now and cap', () => {
    fc.assert(
      fc.property(anyHeaders, fc.double(), fc.double(), (headers, now, cap) => {
        const ms = parseRetryAfter(headers, now, cap);
        if (ms !== undefined) {
          expect(Number.isFinite(ms)).toBe(true);
          expect(ms).toBeGreaterThanOrEqual(0);
          expect(ms).toBeLessThanOrEqual(Number.isFinite(cap) && cap > 0 ? cap : 0);
        }
      }),
      RUNS,
    );
  });

  it('delay-seconds are honoured up to the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), (seconds) => {
        expect(parseRetryAfter({ 'retry-after': String(seconds) }, NOW, CAP)).toBe(
          Math.min(seconds * 1000, CAP),
        );
      }),
      RUNS,
    );
  });

  it('an HTTP-date in the past means "now" (0)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 * 365 * 86_400 }), (secondsAgo) => {
        const date = new Date(NOW - secondsAgo * 1000).toUTCString();
        expect(parseRetryAfter({ 'Retry-After': date }, NOW, CAP)).toBe(0);
      }),
      RUNS,
    );
  });

  it('an HTTP-date in the future is the distance to it (second precision), capped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3_600 }), (secondsAhead) => {
        const date = new Date(NOW + secondsAhead * 1000).toUTCString();
        expect(parseRetryAfter({ 'Retry-After': date }, NOW, CAP)).toBe(Math.min(secondsAhead * 1000, CAP));
      }),
      RUNS,
    );
  });
});

describe('parseRetryAfter examples', () => {
  it.each([
    ['seconds', { 'Retry-After': '7' }, 7_000],
    ['seconds with spaces', { 'retry-after': ' 7 ' }, 7_000],
    ['fractional seconds round up', { 'retry-after': '0.5' }, 500],
    ['HTTP-date 10 s ahead', { 'Retry-After': new Date(NOW + 10_000).toUTCString() }, 10_000],
    ['negative seconds are ignored', { 'Retry-After': '-5' }, undefined],
    ['garbage is ignored', { 'Retry-After': 'soon' }, undefined],
    ['no header', {}, undefined],
    ['X-RateLimit-Reset epoch seconds', { 'X-RateLimit-Reset': String((NOW + 30_000) / 1000) }, 30_000],
    ['X-RateLimit-Reset epoch ms', { 'x-ratelimit-reset': String(NOW + 4_000) }, 4_000],
    ['RateLimit-Reset delta seconds', { 'RateLimit-Reset': '12' }, 12_000],
    ['X-RateLimit-Reset in the past', { 'X-RateLimit-Reset': String((NOW - 60_000) / 1000) }, 0],
    ['structured RateLimit header', { RateLimit: 'limit=10, remaining=0, reset=3' }, 3_000],
    ['Retry-After wins over reset headers', { 'Retry-After': '2', 'X-RateLimit-Reset': '50' }, 2_000],
    ['garbage Retry-After falls back to reset header', { 'Retry-After': 'x', 'RateLimit-Reset': '4' }, 4_000],
    ['capped', { 'Retry-After': '86400' }, CAP],
    ['array value takes the first', { 'retry-after': ['3', '9'] }, 3_000],
  ])('%s', (_label, headers, expected) => {
    expect(parseRetryAfter(headers, NOW, CAP)).toBe(expected);
  });

  it('reads header objects with a get() method (fetch Headers, AxiosHeaders)', () => {
    expect(parseRetryAfter(new Headers({ 'Retry-After': '5' }), NOW, CAP)).toBe(5_000);
  });

  it('survives a headers object whose getter throws', () => {
    const hostile = Object.defineProperty({}, 'retry-after', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    expect(parseRetryAfter(hostile, NOW, CAP)).toBeUndefined();
  });
});
