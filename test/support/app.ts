import type { FastifyInstance } from 'fastify';
import type { EspModule } from '../../src/esp/registry.js';
import { startWorkers } from '../../src/app/workers.js';
import { createApp } from '../../src/web/app.js';
import { createTestContext } from './integration.js';

export type TestContext = Awaited<ReturnType<typeof createTestContext>>;

/** A context with the web app listening on a real loopback port, and optionally workers; `esps`: the configured ESPs. */
export async function startTestApp(opts: { env?: Record<string, string>; workers?: number; esps?: readonly EspModule[] } = {}) {
  const ctx = await createTestContext(opts.env, opts.esps ? { esps: opts.esps } : {});
  const app: FastifyInstance = await createApp(ctx);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  for (let i = 0; i < (opts.workers ?? 0); i++) {
    startWorkers(ctx);
  }
  return {
    ctx,
    app,
    url,
    async post(path: string, body: unknown, headers: Record<string, string> = {}) {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
    },
    async get(path: string) {
      const res = await fetch(`${url}${path}`);
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      return { status: res.status, body: body as Record<string, unknown>, text, headers: res.headers };
    },
    async close() {
      await app.close();
      await ctx.dispose();
    },
  };
}
