import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ProducerApiConfig } from '../../config/index.js';
import type { RedisClient } from '../queues/connection.js';
import { parseBearer, safeEqual } from './basic-auth.js';
import { errorBody } from './errors.js';

/**
 * Authentication and rate limit of the `/v1/` API (see README "Producer API keys and rate
 * limits"). Both run as onRequest hooks, before the body is read: a refused request stores nothing.
 */

type Key = ProducerApiConfig['keys'][number];

/**
 * The name of the key whose secret the `Authorization: Bearer` token is, or null. Every key is
 * compared, in constant time (SHA-256 digests), so the time taken says nothing about which key
 * came close or how long the secrets are.
 */
export function matchProducerKey(header: string | undefined, keys: readonly Key[]): string | null {
  const token = parseBearer(header);
  let match: string | null = null;
  for (const key of keys) {
    const equal = safeEqual(token ?? '', key.secret);
    if (equal && token !== null && match === null) match = key.name;
  }
  return match;
}

/**
 * One key per budget (so one hash slot: the script is safe on Redis Cluster, where ioredis sends
 * it to the key's master). One round trip: INCR the window's counter and start the window (PEXPIRE) on its first request.
 * A counter without expiry (PTTL < 0) gets one, so no budget can be stuck forever.
 */
const FIXED_WINDOW = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`;

export interface WindowCount {
  /** Requests in the current window, this one included. */
  count: number;
  /** Time until the window ends. */
  resetMs: number;
}

/** A fixed-window request counter in Redis, shared by every `web` process. */
export class FixedWindowCounter {
  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly windowMs: number,
    private readonly timeoutMs = 2_000,
  ) {}

  async hit(budget: string): Promise<WindowCount> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      const reply = await Promise.race([this.redis.eval(FIXED_WINDOW, 1, `${this.keyPrefix}${budget}`, this.windowMs), timeout]);
      const [count, resetMs] = reply as [number, number];
      return { count, resetMs };
    } finally {
      clearTimeout(timer);
    }
  }
}

export type GuardOutcome = 'unauthorized' | 'rate_limited' | 'limit_unchecked';

export interface ProducerGuardDeps {
  config: ProducerApiConfig;
  /** The shared producer connection (QueueRuntime.producer): fails fast, no offline queue. */
  redis: RedisClient;
  /** Redis key prefix of the app (QUEUE_PREFIX). */
  prefix: string;
  count(outcome: GuardOutcome): void;
}

const AUTH_RULE = 'must be "Bearer <API key>" with a key configured in PRODUCER_API_KEYS';

/**
 * The onRequest hook of the `/v1/` routes: 401 unless the bearer token is a configured key (when
 * keys are configured), then 429 when the caller's budget for this window is spent. Budgets are
 * per key name (per client address without keys) and separate for reads (GET/HEAD) and writes,
 * so an export that pages through changes never takes the budget of the opt-outs.
 *
 * When Redis does not answer, the request is admitted without a limit check, logged and counted
 * (`consent_sync_producer_guard_total{outcome="limit_unchecked"}`): the API keeps storing opt-outs
 * in MongoDB through a Redis outage, as it does when the enqueue after the write fails.
 */
export function producerGuardHook(deps: ProducerGuardDeps) {
  const { config } = deps;
  const limit = config.rateLimit;
  const counter =
    limit.perWindow > 0 ? new FixedWindowCounter(deps.redis, `${deps.prefix}:ratelimit:`, limit.windowMs) : undefined;

  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    let caller: string;
    if (config.auth === 'keys') {
      const name = matchProducerKey(request.headers.authorization, config.keys);
      if (name === null) {
        deps.count('unauthorized');
        const missing = request.headers.authorization === undefined;
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer realm="consent-sync"')
          .header('cache-control', 'no-store')
          .send(
            errorBody(
              'unauthorized',
              missing
                ? 'this API needs an "Authorization: Bearer <API key>" header; nothing was stored'
                : 'the Authorization header does not carry a valid API key; nothing was stored',
              [{ field: 'authorization', rule: AUTH_RULE }],
            ),
          );
      }
      caller = `key:${name}`;
      request.log = request.log.child({ producer: name });
    } else {
      caller = `ip:${request.ip}`;
    }
    if (!counter) return undefined;

    const kind = request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'write';
    let window: WindowCount;
    try {
      window = await counter.hit(`${kind}:${caller}`);
    } catch (err) {
      deps.count('limit_unchecked');
      request.log.warn({ err }, 'producer rate limit not checked (Redis did not answer); request admitted');
      return undefined;
    }
    if (window.count <= limit.perWindow) return undefined;

    deps.count('rate_limited');
    const retryAfter = Math.max(1, Math.ceil(window.resetMs / 1000));
    const who = config.auth === 'keys' ? `API key "${caller.slice(4)}"` : 'client address';
    const rule = `at most ${limit.perMinute} requests per minute (${limit.perWindow} per ${limit.windowMs} ms window) per ${config.auth === 'keys' ? 'API key' : 'client address'} for ${kind}s`;
    return reply
      .code(429)
      .header('retry-after', String(retryAfter))
      .header('cache-control', 'no-store')
      .send(
        errorBody('rate_limited', `${who} is over PRODUCER_RATE_LIMIT_PER_MINUTE; nothing was stored, retry after ${retryAfter} s`, [
          { field: 'PRODUCER_RATE_LIMIT_PER_MINUTE', rule },
        ]),
      );
  };
}
