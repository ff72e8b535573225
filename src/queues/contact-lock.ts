import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export class LockTimeoutError extends Error {
  constructor(key: string, waitedMs: number) {
    super(`could not lock ${key} within ${waitedMs} ms; the job will retry`);
    this.name = 'LockTimeoutError';
  }
}

/**
 * A short per-contact lease in Redis around each read-modify-write of a contact document.
 * Correctness does not rest on it — every write is still guarded by `rev` or the outbox
 * version in its MongoDB filter — but it keeps concurrent workers from racing on one contact:
 * fewer wasted retries in production, and on the FerretDB test server (whose guarded update
 * reads and writes in two steps) it is what keeps concurrent writers apart.
 */
export class ContactLocks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs = 30_000,
    private readonly maxWaitMs = 20_000,
  ) {}

  async withLock<T>(contactId: string, fn: () => Promise<T>): Promise<T> {
    const key = `${this.prefix}:lock:contact:${contactId}`;
    const token = randomBytes(12).toString('hex');
    const started = Date.now();
    let delay = 2;
    while ((await this.redis.set(key, token, 'PX', this.ttlMs, 'NX')) !== 'OK') {
      if (Date.now() - started > this.maxWaitMs) throw new LockTimeoutError(key, Date.now() - started);
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
      delay = Math.min(delay * 2, 50);
    }
    try {
      return await fn();
    } finally {
      await this.redis.eval(RELEASE, 1, key, token).catch(() => {});
    }
  }
}
