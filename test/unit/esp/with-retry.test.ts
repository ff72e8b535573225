import fc from 'fast-check';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { EspError } from '../../../src/esp/kit/http/errors.js';
import { type InlineRetryPolicy, inlineRetryDelay, withRetry } from '../../../src/esp/kit/http/with-retry.js';

const policy: InlineRetryPolicy = {
  retries: 2,
  baseDelayMs: 1,
  maxDelayMs: 4,
  retryRateLimited: true,
  maxInlineWaitMs: 50,
  retryAfterCapMs: 900_000,
};

const failWith = (status: number, headers: Record<string, string> = {}) => ({ status, headers });

function counting(failures: unknown[], result = 'ok') {
  let calls = 0;
  const fn = async () => {
    const f = failures[calls++];
    if (f !== undefined) throw f;
    return result;
  };
  return { fn, calls: () => calls };
}

/** A real pino logger at debug level whose lines are kept as parsed objects. */
function capturingLogger() {
  const lines: { level: number; msg: string; status?: number }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

describe('withRetry', () => {
  it('logs a status the caller expects at debug and any other failure at warn', async () => {
    const { logger, lines } = capturingLogger();
    const expected = counting([failWith(404)]);
    await expect(withRetry(expected.fn, { esp: 'optimizely-campaign', policy, logger, expectedStatuses: [404] })).rejects.toMatchObject({ status: 404 });
    const unexpected = counting([failWith(400)]);
    await expect(withRetry(unexpected.fn, { esp: 'optimizely-campaign', policy, logger, expectedStatuses: [404] })).rejects.toMatchObject({ status: 400 });
    expect(lines.map((l) => [l.status, l.level])).toEqual([
      [404, 20],
      [400, 40],
    ]);
  });

  it.each([408, 425, 429, 500, 502, 503, 504])('retries %i and then succeeds', async (status) => {
    const { fn, calls } = counting([failWith(status)]);
    await expect(withRetry(fn, { esp: 'ometria', policy })).resolves.toBe('ok');
    expect(calls()).toBe(2);
  });

  it.each([
    [400, 'permanent'],
    [404, 'permanent'],
    [422, 'permanent'],
    [401, 'auth'],
    [403, 'auth'],
  ] as const)('does not retry %i (%s)', async (status, kind) => {
    const { fn, calls } = counting([failWith(status)]);
    await expect(withRetry(fn, { esp: 'actito', policy })).rejects.toMatchObject({
      name: 'EspError',
      kind,
      status,
      esp: 'actito',
    });
    expect(calls()).toBe(1);
  });

  it('makes at most three attempts, whatever the configuration says', async () => {
    const { fn, calls } = counting(Array(10).fill(failWith(503)));
    await expect(
      withRetry(fn, { esp: 'crossengage', policy: { ...policy, retries: 9 } }),
    ).rejects.toMatchObject({
      kind: 'retryable',
      status: 503,
    });
    expect(calls()).toBe(3);
  });

  it('leaves 429 to the queue when the ESP is not configured for in-job 429 retries', async () => {
    const { fn, calls } = counting([failWith(429, { 'retry-after': '0' })]);
    const err = await withRetry(fn, {
      esp: 'dynamic-yield',
      policy: { ...policy, retryRateLimited: false },
    }).catch((e) => e);
    expect(err).toMatchObject({ kind: 'rate_limited', retryAfterMs: 0 });
    expect(calls()).toBe(1);
  });

  it('surfaces a Retry-After longer than the inline budget instead of sleeping', async () => {
    const { fn, calls } = counting([failWith(429, { 'retry-after': '7' })]);
    const started = Date.now();
    const err = await withRetry(fn, { esp: 'ometria', policy }).catch((e) => e);
    expect(err).toMatchObject({ kind: 'rate_limited', retryAfterMs: 7_000 });
    expect(calls()).toBe(1);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('waits at least the Retry-After when it fits the inline budget', async () => {
    const { fn } = counting([failWith(503, { 'retry-after': '0.04' })]);
    const started = performance.now();
    await withRetry(fn, { esp: 'ometria', policy });
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
  });

  it('turns network errors into retryable EspErrors', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const { fn, calls } = counting([reset, reset, reset]);
    await expect(withRetry(fn, { esp: 'actito', policy })).rejects.toBeInstanceOf(EspError);
    expect(calls()).toBe(3);
  });

  it('stops with the abort reason when the signal fires during a backoff wait', async () => {
    const controller = new AbortController();
    const slow = { ...policy, baseDelayMs: 10_000, maxDelayMs: 10_000, maxInlineWaitMs: 20_000 };
    const { fn, calls } = counting(Array(5).fill(failWith(500)));
    const pending = withRetry(fn, {
      esp: 'ometria',
      policy: slow,
      signal: controller.signal,
      random: () => 1,
    });
    setTimeout(() => controller.abort(new Error('shutdown')), 20);
    await expect(pending).rejects.toThrow('shutdown');
    expect(calls()).toBe(1);
  });

  it('does not start when the signal is already aborted', async () => {
    const { fn, calls } = counting([]);
    await expect(
      withRetry(fn, { esp: 'ometria', policy, signal: AbortSignal.abort(new Error('gone')) }),
    ).rejects.toThrow('gone');
    expect(calls()).toBe(0);
  });
});

describe('inlineRetryDelay (full jitter)', () => {
  it('is within [0, min(max, base·2^(n-1))] or the Retry-After, never above the inline budget', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
        fc.constantFrom('retryable', 'rate_limited') as fc.Arbitrary<'retryable' | 'rate_limited'>,
        (retry, r, retryAfterMs, kind) => {
          const p = { ...policy, baseDelayMs: 100, maxDelayMs: 1_000, maxInlineWaitMs: 5_000 };
          const err = new EspError('ometria', kind, 'x', retryAfterMs === undefined ? {} : { retryAfterMs });
          const d = inlineRetryDelay(err, retry, p, () => r);
          const ceiling = Math.min(1_000, 100 * 2 ** (retry - 1));
          if (retryAfterMs !== undefined && retryAfterMs > 5_000) {
            expect(d).toBeUndefined();
          } else {
            expect(d).toBeGreaterThanOrEqual(retryAfterMs ?? 0);
            expect(d).toBeLessThanOrEqual(Math.max(ceiling, retryAfterMs ?? 0));
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('never retries permanent or auth failures', () => {
    expect(inlineRetryDelay(new EspError('ometria', 'permanent', 'x'), 1, policy)).toBeUndefined();
    expect(inlineRetryDelay(new EspError('ometria', 'auth', 'x'), 1, policy)).toBeUndefined();
  });
});
