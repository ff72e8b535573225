import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { budgetKey, sharedPacers } from '../../src/esp/kit/shared-pacer.js';

/** A minute's window, so nothing ages out while a test runs: what fits is decided by counts alone. */
const WINDOW_MS = 60_000;

describe('shared ESP rate window in Redis', () => {
  const connections: Redis[] = [];
  /** A pacer factory on its own connection, as each worker process has. */
  const processOn = (prefix: string) => {
    const redis = new Redis(inject('redisUrl'));
    connections.push(redis);
    return sharedPacers(redis, prefix);
  };
  afterAll(() => {
    for (const c of connections) c.disconnect();
  });

  it('two processes together start no more than the budget in one window', async () => {
    const prefix = `t_pacer_${randomBytes(4).toString('hex')}`;
    const a = processOn(prefix)('ometria', 6, WINDOW_MS, {});
    const b = processOn(prefix)('ometria', 6, WINDOW_MS, {});
    let started = 0;
    const abort = new AbortController();
    const takes = Array.from({ length: 10 }, (_, i) =>
      (i % 2 === 0 ? a : b).take(abort.signal).then(
        () => {
          started++;
        },
        () => undefined,
      ),
    );
    // The window's members are the starts of both processes.
    const redis = connections[0]!;
    await expect.poll(() => redis.zcard(budgetKey(prefix, 'ometria'))).toBe(6);
    expect(started).toBe(6);
    abort.abort(new Error('test over'));
    await Promise.all(takes);
    expect(started).toBe(6);
  });

  it('lanes 2 and 3 leave the reserve to lane 1, whichever process asks', async () => {
    const prefix = `t_pacer_${randomBytes(4).toString('hex')}`;
    const bulk = processOn(prefix)('actito', 5, WINDOW_MS, { reserve: 2 });
    const person = processOn(prefix)('actito', 5, WINDOW_MS, { reserve: 2 });
    for (let i = 0; i < 3; i++) await bulk.take(undefined, 3);
    const abort = new AbortController();
    let fourthBulk = false;
    const waiting = bulk.take(abort.signal, 2).then(
      () => {
        fourthBulk = true;
      },
      (err: Error) => err.message,
    );
    await person.take(undefined, 1);
    await person.take(undefined, 1);
    expect(fourthBulk).toBe(false);
    abort.abort(new Error('gave up'));
    expect(await waiting).toBe('gave up');
    expect(await connections[0]!.zcard(budgetKey(prefix, 'actito'))).toBe(5);
  });
});
