import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { stripVTControlCharacters } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { DEV_ENV_FILE, parseDevEnv } from '../../src/dev/dev-env.js';
import { freePort } from '../../src/dev/child.js';
import { withDatabase } from '../../src/dev/mongo-server.js';
import { freshClone, removeClones, runIn } from '../support/fresh-clone.js';
import { waitFor } from '../support/wait-for.js';

/**
 * `npm run dev` as a new user meets it (issue #17): started in a fresh clone, used from a second
 * terminal that has nothing but the file dev writes, and stopped with Ctrl-C, which a terminal
 * sends to the whole foreground process group (dev runs here in a group of its own, and the
 * test signals the group). dev starts its own Redis; MongoDB is the test server's, in a
 * database of this test's own (a JVM per dev start would be slow on a shared machine).
 */

/** A second terminal in the clone: PATH and HOME only, no settings of the dev stack. */
const secondTerminal = (cwd: string, argv: string[]) => runIn(cwd, process.execPath, argv);
const cli = (cwd: string, args: string[]) => secondTerminal(cwd, ['src/bin/consent-sync.mjs', ...args]);

function nonLoopbackIPv4(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

describe('npm run dev, from a fresh clone', () => {
  let clone: string;
  let dev: ChildProcess;
  let output = '';
  let exited: Promise<number | null>;
  let port: number;
  let workerPort: number;
  let schedulerPort: number;
  const lines = () => stripVTControlCharacters(output).split('\n');

  beforeAll(async () => {
    clone = freshClone();
    port = await freePort();
    workerPort = await freePort();
    schedulerPort = await freePort();
    // Five consecutive ports for the simulators, below Linux's ephemeral range (32768 and up), where
    // the other tests' free ports and outgoing connections live; a start that still meets a taken
    // port is tried again on others.
    for (let attempt = 1; attempt <= 3; attempt++) {
      output = '';
      const simPort = 20_000 + Math.floor(Math.random() * 12_700);
      startDev(simPort);
      await waitFor(() => output.includes('[dev] ready:') || dev.exitCode !== null, {
        what: 'dev ready',
        timeoutMs: 120_000,
        intervalMs: 200,
      });
      if (output.includes('[dev] ready:') || !output.includes('EADDRINUSE')) break;
      await exited;
    }
    if (!output.includes('[dev] ready:')) throw new Error(`dev did not start:\n${output}`);
  }, 300_000);

  function startDev(simPort: number): void {
    dev = spawn(process.execPath, ['--import', 'tsx', 'src/bin/dev.ts'], {
      cwd: clone,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        PORT: String(port),
        WORKER_METRICS_PORT: String(workerPort),
        SCHEDULER_METRICS_PORT: String(schedulerPort),
        SIM_PORT: String(simPort),
        MONGODB_URI: withDatabase(inject('mongoUri'), `t_dev_${randomBytes(4).toString('hex')}`),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    dev.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    dev.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    exited = new Promise((resolve) => dev.once('exit', (code) => resolve(code)));
  }

  afterAll(async () => {
    if (dev?.pid && dev.exitCode === null) process.kill(-dev.pid, 'SIGKILL');
    removeClones();
  });

  it('is quiet until ready: no warnings, no request noise, the configuration once', () => {
    const before = lines().slice(
      0,
      lines().findIndex((l) => l.includes('[dev] ready:')),
    );
    expect(
      before.filter((l) => /\b(WARN|ERROR|FATAL)\b/.test(l)),
      output,
    ).toEqual([]);
    expect(output).not.toContain('FSTDEP');
    expect(output).not.toMatch(/req: \{\}|res: \{\}/);
    expect(output.match(/"unsubscribeSecret"/g)).toHaveLength(1);
    expect(before.length).toBeLessThan(20);
  });

  it('listens on loopback only, and its one-click links use the real port', async () => {
    expect(output).toContain(`"http":{"host":"127.0.0.1","port":${port}}`);
    expect(output).toContain(`"publicBaseUrl":"http://127.0.0.1:${port}"`);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    const external = nonLoopbackIPv4();
    if (external) await expect(fetch(`http://${external}:${port}/healthz`)).rejects.toThrow();
  });

  it('shares its stack in .consent-sync/dev.env, and prints it for eval', async () => {
    const shared = parseDevEnv(readFileSync(join(clone, DEV_ENV_FILE), 'utf8'));
    expect(shared['REDIS_URL']).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(shared['MONGODB_URI']).toMatch(/^mongodb:\/\//);
    expect(shared['CROSSENGAGE_BASE_URL']).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(shared['CROSSENGAGE_API_KEY']).toBeTruthy();
    expect(shared['WORKER_METRICS_PORT']).toBe(String(workerPort));
    const printed = await secondTerminal(clone, ['--import', 'tsx', 'src/bin/dev.ts', '--print-env']);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toContain(`export REDIS_URL='${shared['REDIS_URL']}'`);
    expect(parseDevEnv(printed.stdout)).toEqual(shared);
  });

  it('the CLI in a second terminal records and shows a contact on the dev stack, with only that file', async () => {
    const events = join(clone, 'events.json');
    writeFileSync(
      events,
      JSON.stringify({
        eventId: 'dev-cli-1',
        contact: { externalId: 'dev-cli-user' },
        kind: 'marketing',
        channel: 'all',
        value: 'opt_out',
        source: 'preference_center',
      }),
    );
    const recorded = await cli(clone, ['record', events]);
    expect(recorded.code, recorded.stderr).toBe(0);
    expect(recorded.stdout).toBe('dev-cli-1\taccepted\n');
    expect(recorded.stderr).toContain(DEV_ENV_FILE);
    // Applied by dev's own worker: the CLI and dev share Redis and MongoDB.
    const view = await waitFor(
      async () => {
        const shown = await cli(clone, ['contact', 'externalId:dev-cli-user']);
        const parsed = shown.code === 0 ? JSON.parse(shown.stdout) : undefined;
        return parsed?.effective?.marketing?.email === 'opted_out' ? parsed : undefined;
      },
      { what: 'the contact opted out', timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(view.effective.marketing).toEqual({ email: 'opted_out', sms: 'opted_out', push: 'opted_out' });
    // CrossEngage does not know this user; whatever it answers is an outcome in the view, not a warning.
    const crossengage = await waitFor(
      async () => {
        const shown = await cli(clone, ['contact', 'externalId:dev-cli-user']);
        const entry = shown.code === 0 ? JSON.parse(shown.stdout).sync?.crossengage : undefined;
        return entry?.version === 1 && entry.status !== 'pending' ? entry : undefined;
      },
      { what: 'the CrossEngage push settled', timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(Object.keys(crossengage.channels).sort()).toEqual(['email', 'push', 'sms']);
    expect(lines().filter((l) => /\b(WARN|ERROR|FATAL)\b/.test(l))).toEqual([]);
    const status = await cli(clone, ['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(
      `redis\t${parseDevEnv(readFileSync(join(clone, DEV_ENV_FILE), 'utf8'))['REDIS_URL']}`,
    );
    expect(status.stdout).toMatch(
      /^esps\toptimizely-campaign, crossengage, actito, dynamic-yield, ometria$/m,
    );
    expect(status.stdout).toMatch(/^consent-apply\t\d+\t\d+\t\d+\t\d+\t\d+\t-$/m);
    const schedules = await cli(clone, ['schedules']);
    expect(schedules.code, schedules.stderr).toBe(0);
    expect(schedules.stdout).toContain('reconcile-crossengage');
  });

  it("serves every process's metrics, Node defaults under their standard names", async () => {
    const text = async (p: number) => (await fetch(`http://127.0.0.1:${p}/metrics`)).text();
    const web = await text(port);
    expect(web).toMatch(/^consent_sync_queue_jobs\{/m);
    expect(web).toMatch(/^process_cpu_user_seconds_total /m);
    expect(web).toMatch(/^nodejs_heap_size_used_bytes /m);
    expect(web).not.toMatch(/^consent_sync_(process|nodejs)_/m);
    // The event recorded above was applied by the worker, which counts it on its own port.
    await waitFor(
      async () => /^consent_sync_events_total\{outcome="applied"\} [1-9]/m.test(await text(workerPort)),
      {
        what: 'the worker counting the applied event',
        intervalMs: 200,
      },
    );
    expect(await text(schedulerPort)).toMatch(/^process_cpu_user_seconds_total /m);
    expect(output).toContain(`worker http://127.0.0.1:${workerPort}/metrics`);
  });

  it('Ctrl-C (SIGINT to the process group) stops it in order: no connection errors, nothing left behind', async () => {
    const mark = output.length;
    process.kill(-dev.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    const after = stripVTControlCharacters(output.slice(mark));
    // Last started, first stopped, each by dev; Redis and MongoDB still up until all are done.
    const stops = after.split('\n').filter((l) => l.startsWith('[dev] ') && /stopped|exited/.test(l));
    expect(stops, after).toEqual([
      '[dev] scheduler stopped',
      '[dev] worker stopped',
      '[dev] web stopped',
      '[dev] stopped',
    ]);
    expect(after).not.toMatch(/ERROR|WARN|ECONNREFUSED|Connection is closed|connection error/i);
    expect(existsSync(join(clone, DEV_ENV_FILE))).toBe(false);
  });
});
