import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MicroBatcher, type Settled, SharedWindow } from '../../../src/services/micro-batcher.js';

describe('MicroBatcher', () => {
  it('settles every submitted key with its own result, in batches no larger than the maximum', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 8 }),
        async (keys, maxBatch) => {
          const batches: number[][] = [];
          const batcher = new MicroBatcher<number, string>(
            async (batch) => {
              batches.push(batch);
              await new Promise((r) => setTimeout(r, 1));
              return new Map(
                batch.map((k): [number, Settled<string>] => [k, k % 7 === 0 ? { ok: false, error: new Error(`bad ${k}`) } : { ok: true, value: `v${k}` }]),
              );
            },
            maxBatch,
            2,
          );
          const outcomes = await Promise.allSettled(keys.map((k) => batcher.submit(k)));
          outcomes.forEach((o, i) => {
            const k = keys[i]!;
            if (k % 7 === 0) expect(o).toMatchObject({ status: 'rejected', reason: { message: `bad ${k}` } });
            else expect(o).toEqual({ status: 'fulfilled', value: `v${k}` });
          });
          for (const b of batches) {
            expect(b.length).toBeLessThanOrEqual(maxBatch);
            expect(new Set(b).size).toBe(b.length); // a key waited for twice is settled once
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('fails every job of a batch whose settle call fails, and a key it forgot', async () => {
    const failing = new MicroBatcher<string, string>(async () => Promise.reject(new Error('mongo down')), 10, 1);
    await expect(Promise.all([failing.submit('a'), failing.submit('b')])).rejects.toThrow('mongo down');
    const forgetful = new MicroBatcher<string, string>(async () => new Map(), 10, 1);
    await expect(forgetful.submit('x')).rejects.toThrow('no result for x');
  });
});

describe('SharedWindow', () => {
  it('settles everything submitted within the window with one call whose result every caller shares', async () => {
    const calls: number[][] = [];
    const window = new SharedWindow(async (items: number[]) => {
      calls.push(items);
      return new Set(items);
    }, 5, 100);
    const [a, b] = await Promise.all([window.submit([1, 2]), window.submit([3])]);
    expect(calls).toEqual([[1, 2, 3]]);
    expect(a).toBe(b);
    expect([...a]).toEqual([1, 2, 3]);
    // a later submission opens a new window
    await window.submit([4]);
    expect(calls).toEqual([[1, 2, 3], [4]]);
  });

  it('flushes at once when maxItems are waiting, without waiting for the window', async () => {
    const calls: number[][] = [];
    const window = new SharedWindow(async (items: number[]) => void calls.push(items), 60_000, 3);
    await Promise.all([window.submit([1, 2]), window.submit([3, 4])]);
    expect(calls).toEqual([[1, 2, 3, 4]]);
  });

  it('rejects every caller of a window whose settle fails, and the next window starts clean', async () => {
    let fail = true;
    const window = new SharedWindow(async (items: string[]) => {
      if (fail) throw new Error('server gone');
      return items.length;
    }, 1, 100);
    const results = await Promise.allSettled([window.submit(['a']), window.submit(['b'])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(window.submit(['c'])).resolves.toBe(1);
  });
});
