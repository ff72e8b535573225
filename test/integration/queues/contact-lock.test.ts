import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ContactLocks, LockTimeoutError } from '../../../src/queues/contact-lock.js';

const redis = new Redis(inject('redisUrl'));
const prefix = `t_lock_${randomBytes(4).toString('hex')}`;
afterAll(() => redis.disconnect());

describe('ContactLocks.inLeasedRounds (real Redis)', () => {
  it('runs free contacts at once and the held one once its holder lets go, each round under its leases', async () => {
    const locks = new ContactLocks(redis, prefix, 5_000, 2_000);
    const other = new ContactLocks(redis, prefix, 5_000, 2_000);
    const held = await other.tryLockMany(['b']);
    expect([...held.held]).toEqual(['b']);
    setTimeout(() => void held.release(), 150);

    const rounds: string[][] = [];
    const stolen: string[] = [];
    await locks.inLeasedRounds(['a', 'b', 'c', 'a'], async (ids) => {
      rounds.push(ids);
      // while a round runs, nobody else can take its contacts
      const attempt = await other.tryLockMany(ids);
      stolen.push(...attempt.held);
      await attempt.release();
    });
    expect(rounds).toEqual([['a', 'c'], ['b']]);
    expect(stolen).toEqual([]);
    // every lease is released afterwards
    const after = await other.tryLockMany(['a', 'b', 'c']);
    expect(after.held.size).toBe(3);
    await after.release();
  });

  it('gives up with LockTimeoutError when a contact stays held past the wait budget, after doing the rest', async () => {
    const locks = new ContactLocks(redis, prefix, 5_000, 200);
    const other = new ContactLocks(redis, prefix, 5_000, 200);
    const held = await other.tryLockMany(['x']);
    const rounds: string[][] = [];
    await expect(locks.inLeasedRounds(['w', 'x'], async (ids) => void rounds.push(ids))).rejects.toBeInstanceOf(LockTimeoutError);
    expect(rounds).toEqual([['w']]);
    await held.release();
  });

  it('releases a round\'s leases when the round throws', async () => {
    const locks = new ContactLocks(redis, prefix, 5_000, 200);
    await expect(
      locks.inLeasedRounds(['y'], async () => {
        throw new Error('write failed');
      }),
    ).rejects.toThrow('write failed');
    const again = await locks.tryLockMany(['y']);
    expect(again.held.has('y')).toBe(true);
    await again.release();
  });
});
