import type { FastifyInstance } from 'fastify';
import { redisFacts } from '../queues/connection.js';
import { pingMongo } from '../persistence/connect.js';
import type { AppContext } from '../app/context.js';

interface Check {
  ok: boolean;
  detail?: string;
}

async function checkRedis(ctx: AppContext): Promise<Check> {
  try {
    const facts = await withTimeout(redisFacts(ctx.runtime.producer), 2_000);
    // Any eviction policy can silently drop BullMQ keys and lose jobs.
    return facts.maxmemoryPolicy === 'noeviction'
      ? { ok: true }
      : { ok: false, detail: `maxmemory-policy is ${facts.maxmemoryPolicy}; must be noeviction` };
  } catch (err) {
    return { ok: false, detail: `unreachable: ${(err as Error).message}` };
  }
}

async function checkMongo(ctx: AppContext): Promise<Check> {
  const ok = await withTimeout(pingMongo(ctx.mongo), 2_000).catch(() => false);
  return ok ? { ok } : { ok, detail: 'unreachable' };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref())]);
}

export function registerHealthRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const [redis, mongodb] = await Promise.all([checkRedis(ctx), checkMongo(ctx)]);
    const ready = redis.ok && mongodb.ok;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: { redis, mongodb } });
  });
}
