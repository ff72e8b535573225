import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MicroBatcher, type Settled } from '../../../src/apply/micro-batcher.js';

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

describe('MicroBatcher, one batch at a time, urgent keys apart', () => {
  it('settles one bulk batch at a time, at most maxBatch keys; an urgent key does not wait for it', async () => {
    const batches: string[][] = [];
    let release: () => void = () => {};
    const batcher = new MicroBatcher<string, string>(
      async (keys) => {
        batches.push(keys);
        if (batches.length === 1) await new Promise<void>((r) => (release = r));
        return new Map(keys.map((k) => [k, { ok: true, value: k } as Settled<string>]));
      },
      3,
      1,
    );
    const first = ['a', 'b', 'c'].map((k) => batcher.submit(k, 3));
    await new Promise((r) => setTimeout(r, 5));
    expect(batches).toEqual([['a', 'b', 'c']]);
    // While the first bulk batch settles, other bulk keys gather; the person's key goes at once.
    const later = [batcher.submit('d', 3), batcher.submit('e', 2), batcher.submit('f', 3)];
    const person = batcher.submit('person', 1);
    expect(await person).toBe('person');
    expect(batches).toEqual([['a', 'b', 'c'], ['person']]);
    release();
    expect(await Promise.all([...first, ...later])).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    // the more urgent bulk key first
    expect(batches.slice(2)).toEqual([['e', 'd', 'f']]);
  });
});
