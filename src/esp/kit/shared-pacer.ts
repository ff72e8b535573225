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
 *
 * A process's takes for one ESP and lane class that come while another is on its way to Redis
 * go together in the next call, which grants the first of them as many starts as fit: one round
 * trip per ESP request was a good part of the worker's Redis traffic and CPU. What the window
 * holds is what that many single takes at the same instant would have left in it.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local allowed = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local wanted = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
local granted = math.max(0, math.min(wanted, allowed - n))
if granted > 0 then
  local starts = {}
  for i = 1, granted do
    starts[2 * i - 1] = now
    starts[2 * i] = ARGV[3] .. ':' .. i
  end
  redis.call('ZADD', KEYS[1], unpack(starts))
  redis.call('PEXPIRE', KEYS[1], window)
end
if granted == wanted then return {granted, 0} end
local due = redis.call('ZRANGE', KEYS[1], n + granted - allowed, n + granted - allowed, 'WITHSCORES')
return {granted, math.max(1, tonumber(due[2]) + window - now)}
`;

/** Takes in one call at most: bounds the script's argument list. */
const MAX_TAKES_PER_CALL = 100;

type Takes = RedisClient & {
  espBudgetTake(key: string, allowed: number, windowMs: number, member: string, wanted: number): Promise<[number, number]>;
};

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
    const windowCeilMs = Math.ceil(windowMs);
    const batchers = new Map<number, () => Promise<number>>();
    const batcherFor = (allowed: number) => {
      let batcher = batchers.get(allowed);
      if (!batcher) {
        batcher = takeBatcher((wanted) => client.espBudgetTake(key, allowed, windowCeilMs, `${processId}:${seq++}`, wanted));
        batchers.set(allowed, batcher);
      }
      return batcher;
    };
    const pacer: Pacer = {
      async take(signal, lane = 3) {
        const take = batcherFor(lane <= 1 ? limit : limit - reserve);
        for (;;) {
          signal?.throwIfAborted();
          const waitMs = await take();
          if (waitMs <= 0) return;
          await sleep(waitMs, signal);
        }
      },
    };
    return pacer;
  };
}

/**
 * One call at a time: takes that arrive while it is on its way wait for it and then go together,
 * the first `granted` of them with a start (0), the others with how long to wait before asking
 * again. A take that finds no call on its way goes at once.
 */
function takeBatcher(call: (wanted: number) => Promise<[number, number]>): () => Promise<number> {
  const queue: { resolve: (waitMs: number) => void; reject: (err: unknown) => void }[] = [];
  let busy = false;
  const flush = async () => {
    busy = true;
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_TAKES_PER_CALL);
      try {
        const [granted, waitMs] = await call(batch.length);
        for (const [i, taker] of batch.entries()) taker.resolve(i < Number(granted) ? 0 : Number(waitMs));
      } catch (err) {
        for (const taker of batch) taker.reject(err);
      }
    }
    busy = false;
  };
  return () =>
    new Promise<number>((resolve, reject) => {
      queue.push({ resolve, reject });
      if (!busy) void flush();
    });
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
