import { describe, expect, it } from 'vitest';
import { createPacer, createSemaphore, mapWithConcurrency } from '../../../src/esp/concurrency.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('createSemaphore', () => {
  it('never lets more than the limit run at once', async () => {
    const sem = createSemaphore(5);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 30 }, () =>
        sem.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await tick(2);
          active--;
        }),
      ),
    );
    expect(peak).toBe(5);
    expect(sem.inFlight).toBe(0);
  });

  it('releases the slot when the task throws', async () => {
    const sem = createSemaphore(1);
    await expect(sem.run(async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(sem.run(async () => 'next')).resolves.toBe('next');
  });
});

describe('createPacer', () => {
  it('admits at most max starts per window', async () => {
    const pacer = createPacer(3, 60);
    const started = performance.now();
    for (let i = 0; i < 3; i++) await pacer.take();
    expect(performance.now() - started).toBeLessThan(30);
    await pacer.take();
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('rejects a waiting take when its signal aborts, without blocking later callers', async () => {
    let now = 0;
    const pacer = createPacer(1, 60_000, { now: () => now });
    await pacer.take();
    const controller = new AbortController();
    const waiting = pacer.take(controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    now = 60_000;
    await expect(pacer.take()).resolves.toBeUndefined();
  });
});

describe('mapWithConcurrency', () => {
  it('keeps order and bounds parallelism', async () => {
    let active = 0;
    let peak = 0;
    const out = await mapWithConcurrency([5, 1, 3, 2, 4], 2, async (n) => {
      active++;
      peak = Math.max(peak, active);
      await tick(n);
      active--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 30, 20, 40]);
    expect(peak).toBe(2);
  });

  it('rejects with the first failure', async () => {
    await expect(
      mapWithConcurrency([1, 2, 3], 3, async (n) => {
        if (n === 2) throw new Error('two');
        return n;
      }),
    ).rejects.toThrow('two');
  });
});
