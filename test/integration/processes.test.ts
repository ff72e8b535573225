import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/dev/child.js';
import { isolatedEnv } from '../support/integration.js';
import { spawnEntry } from '../support/processes.js';
import { waitFor } from '../support/wait-for.js';

describe('process entry points', () => {
  it('web exits non-zero within seconds, naming Redis, when Redis is down', async () => {
    const deadPort = await freePort();
    const started = Date.now();
    const proc = spawnEntry('web', isolatedEnv({ REDIS_URL: `redis://127.0.0.1:${deadPort}`, LOG_LEVEL: 'error' }));
    const { code } = await proc.exited;
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(proc.output()).toMatch(/Redis is unreachable at redis:\/\/127\.0\.0\.1:\d+/);
  });

  it('web exits non-zero naming MongoDB when MongoDB is down', async () => {
    const deadPort = await freePort();
    const proc = spawnEntry('web', isolatedEnv({ MONGODB_URI: `mongodb://127.0.0.1:${deadPort}/x`, LOG_LEVEL: 'error' }));
    const { code } = await proc.exited;
    expect(code).toBe(1);
    expect(proc.output()).toMatch(/MongoDB is unreachable/);
  });

  it('a bad configuration stops start-up with one message listing every bad variable', async () => {
    const proc = spawnEntry('worker', isolatedEnv({ REDIS_URL: 'nope', MONGODB_URI: 'postgres://x', PORT: '-1' }));
    const { code } = await proc.exited;
    expect(code).toBe(2);
    const out = proc.output();
    expect(out).toContain('Invalid configuration (3 problems)');
    for (const name of ['REDIS_URL', 'MONGODB_URI', 'PORT']) expect(out).toContain(`- ${name}:`);
  });

  it('web serves /healthz and /readyz, then stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const proc = spawnEntry('web', isolatedEnv({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' }));
    const ready = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        return res.status === 200 ? res.json() : undefined;
      },
      { what: '/readyz 200', timeoutMs: 30_000 },
    );
    expect(ready).toMatchObject({ status: 'ready', checks: { redis: { ok: true }, mongodb: { ok: true } } });
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toEqual({ status: 'ok' });
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    expect(proc.output()).toContain('web stopped');
    const out = proc.output();
    expect(out).not.toContain('FSTDEP');
    expect(out).not.toMatch(/"req":\{\}|"res":\{\}/);
    expect(out).toContain('"req":{"method":"GET","url":"/readyz"}');
    expect(out.match(/"config":/g)).toHaveLength(1);
  });

  it.each(['worker', 'scheduler'] as const)('%s starts, logs its configuration without secrets, and stops on SIGTERM', async (entry) => {
    const env = isolatedEnv({ LOG_LEVEL: 'info', BOARD_PASSWORD: 'super-secret-board-pw' });
    const proc = spawnEntry(entry, env);
    await waitFor(() => proc.output().includes(`${entry} ready`), { what: `${entry} ready`, timeoutMs: 30_000 });
    expect(proc.output()).toContain(`${entry} starting`);
    expect(proc.output()).not.toContain('super-secret-board-pw');
    // The configuration once, and nothing at warn or above on a healthy start.
    expect(proc.output().match(/"config":/g)).toHaveLength(1);
    expect(proc.output().split('\n').filter((l) => /"level":(40|50|60)/.test(l))).toEqual([]);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  });
});
