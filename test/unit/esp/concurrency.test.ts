import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPacer, createSemaphore, mapWithConcurrency } from '../../../src/esp/kit/concurrency.js';

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

describe('lanes at the budget', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps the reserve of every window for lane 1: lanes 2–3 never take it, lane 1 gets it at once', async () => {
    vi.useFakeTimers();
    const pacer = createPacer(10, 1_000, { reserve: 2, now: () => Date.now() });
    const started: string[] = [];
    const bulk = Array.from({ length: 30 }, (_, i) => pacer.take(undefined, 3).then(() => started.push(`bulk${i}`)));
    await vi.advanceTimersByTimeAsync(10);
    expect(started).toHaveLength(8); // 10 per window, 2 kept back
    await pacer.take(undefined, 1);
    started.push('person');
    await pacer.take(undefined, 1);
    started.push('person2');
    expect(started.slice(8)).toEqual(['person', 'person2']);
    // The window is full now: nobody else starts until starts age out.
    await vi.advanceTimersByTimeAsync(500);
    expect(started).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(500);
    expect(started.filter((s) => s.startsWith('bulk'))).toHaveLength(16);
    await vi.advanceTimersByTimeAsync(5_000);
    await Promise.all(bulk);
  });

  it('lets a waiting lane 1 request go before earlier lane 3 waiters, and lane 2 before lane 3', async () => {
    vi.useFakeTimers();
    const pacer = createPacer(1, 1_000, { now: () => Date.now() });
    await pacer.take(undefined, 3);
    const order: string[] = [];
    const waits = [
      pacer.take(undefined, 3).then(() => order.push('bulk')),
      pacer.take(undefined, 2).then(() => order.push('optout')),
      pacer.take(undefined, 1).then(() => order.push('person')),
    ];
    await vi.advanceTimersByTimeAsync(3_500);
    await Promise.all(waits);
    expect(order).toEqual(['person', 'optout', 'bulk']);
  });

  it('keeps one concurrency slot for lane 1', async () => {
    const sem = createSemaphore(3, { reserve: 1 });
    const release: Array<() => void> = [];
    const running: string[] = [];
    const hold = (name: string) => () => new Promise<void>((r) => {
      running.push(name);
      release.push(r);
    });
    const bulk = [1, 2, 3].map((i) => sem.run(hold(`bulk${i}`), 3));
    await tick(2);
    expect(running).toEqual(['bulk1', 'bulk2']);
    const person = sem.run(hold('person'), 1);
    await tick(2);
    expect(running).toEqual(['bulk1', 'bulk2', 'person']);
    for (const r of release.splice(0)) r();
    await tick(2);
    for (const r of release.splice(0)) r();
    await Promise.all([...bulk, person]);
    expect(running).toContain('bulk3');
  });
});
