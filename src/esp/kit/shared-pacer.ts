import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../queues/connection.js';
import type { Pacer, PacerFactory } from './concurrency.js';
import type { EspName } from '../types.js';

/**
 * An ESP's rate window shared by every process: the ESP counts the calls of all our workers
 * together, so N workers with a window each would make N times its documented limit.
 *
 * One sorted set per ESP holds the window's starts (score: Redis server time in ms, so the
 * processes' clocks need not agree). One Lua script per take, on that one key: cluster-safe
 * (one slot) and atomic. Lanes 2–3 may fill the window up to `max - reserve`; lane 1 up to `max`,
 * so the reserve stays free for a person's unsubscribe whichever process serves it. A take that
 * does not fit is told how long until enough starts age out for its lane, and asks again then.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local allowed = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < allowed then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local due = redis.call('ZRANGE', KEYS[1], n - allowed, n - allowed, 'WITHSCORES')
return math.max(1, tonumber(due[2]) + window - now)
`;

type Takes = RedisClient & { espBudgetTake(key: string, allowed: number, windowMs: number, member: string): Promise<number> };

function withTake(redis: RedisClient): Takes {
  if (!('espBudgetTake' in redis)) redis.defineCommand('espBudgetTake', { numberOfKeys: 1, lua: TAKE });
  return redis as Takes;
}

/** The key of an ESP's shared window: one key, so one slot on a Redis Cluster. */
export function budgetKey(prefix: string, esp: EspName): string {
  return `${prefix}:esp-budget:${esp}`;
}

/** Pacers whose windows live in Redis under `prefix`, shared by every process on that Redis. */
export function sharedPacers(redis: RedisClient, prefix: string): PacerFactory {
  const client = withTake(redis);
  const processId = randomBytes(6).toString('hex');
  let seq = 0;
  return (esp, max, windowMs, options) => {
    const limit = Math.max(1, Math.floor(max));
    const reserve = Math.min(Math.max(0, Math.floor(options.reserve ?? 0)), limit - 1);
    const key = budgetKey(prefix, esp);
    const pacer: Pacer = {
      async take(signal, lane = 3) {
        const allowed = lane <= 1 ? limit : limit - reserve;
        for (;;) {
          signal?.throwIfAborted();
          const waitMs = Number(await client.espBudgetTake(key, allowed, Math.ceil(windowMs), `${processId}:${seq++}`));
          if (waitMs <= 0) return;
          await sleep(waitMs, signal);
        }
      },
    };
    return pacer;
  };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
