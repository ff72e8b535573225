import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

// One round trip for a whole batch; a contact another worker holds is left out, not waited for.
const LOCK_MANY = `local held = {}
for i, key in ipairs(KEYS) do
  if redis.call('set', key, ARGV[1], 'PX', ARGV[2], 'NX') then held[#held + 1] = i end
end
return held`;
const RELEASE_MANY = `local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then n = n + redis.call('del', key) end
end
return n`;

export interface HeldLeases {
  held: ReadonlySet<string>;
  release(): Promise<void>;
}

export class LockTimeoutError extends Error {
  constructor(key: string, waitedMs: number) {
    super(`could not lock ${key} within ${waitedMs} ms; the job will retry`);
    this.name = 'LockTimeoutError';
  }
}

/**
 * A short per-contact lease in Redis around each read-modify-write of a contact document.
 * On MongoDB correctness does not rest on it (every write is guarded by `rev` or the outbox
 * version in its filter); it only saves wasted retries. On servers without atomic filtered
 * updates (the FerretDB test server reads and writes in two steps) it is what keeps concurrent
 * writers apart, so there every contact write happens under it.
 */
export class ContactLocks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
    private readonly maxWaitMs: number,
  ) {}

  private key(contactId: string): string {
    return `${this.prefix}:lock:contact:${contactId}`;
  }

  /** Takes the leases that are free now, in one round trip; the caller handles the rest on their own. */
  async tryLockMany(contactIds: readonly string[]): Promise<HeldLeases> {
    if (contactIds.length === 0) return { held: new Set(), release: async () => {} };
    const token = randomBytes(12).toString('hex');
    const keys = contactIds.map((id) => this.key(id));
    const indexes = (await this.redis.eval(LOCK_MANY, keys.length, ...keys, token, this.ttlMs)) as number[];
    const held = new Set(indexes.map((i) => contactIds[i - 1]!));
    const heldKeys = keys.filter((_, i) => held.has(contactIds[i]!));
    return {
      held,
      release: async () => {
        if (heldKeys.length > 0) await this.redis.eval(RELEASE_MANY, heldKeys.length, ...heldKeys, token).catch(() => {});
      },
    };
  }

  /**
   * Runs `fn` on the contacts in rounds, each round on those whose leases are free then (held
   * for the round), until every contact had its round; waits with backoff while all are held
   * elsewhere. Keeps a batch a batch when other workers hold some of its contacts for a moment,
   * where taking them one by one would cost a read and a write each.
   */
  async inLeasedRounds(contactIds: readonly string[], fn: (held: string[]) => Promise<void>): Promise<void> {
    let remaining = [...new Set(contactIds)];
    const started = Date.now();
    let delay = 2;
    while (remaining.length > 0) {
      const leases = await this.tryLockMany(remaining);
      if (leases.held.size > 0) {
        try {
          await fn(remaining.filter((id) => leases.held.has(id)));
        } finally {
          await leases.release();
        }
        remaining = remaining.filter((id) => !leases.held.has(id));
        continue;
      }
      if (Date.now() - started > this.maxWaitMs) throw new LockTimeoutError(this.key(remaining[0]!), Date.now() - started);
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
      delay = Math.min(delay * 2, 50);
    }
  }

  async withLock<T>(contactId: string, fn: () => Promise<T>): Promise<T> {
    const key = this.key(contactId);
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
