/** Generic simulator machinery: control routes, request log, faults, latency, startSimulators and the CLI. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseSimulatorsCliArgs, runSimulatorsCli } from '../../../src/simulators/cli.js';
import {
  ESP_ORDER,
  type LoggedRequest,
  type SimulatorHandle,
  simulatorCredentials,
  startSimulator,
  startSimulators,
} from '../../../src/simulators/index.js';
import { control, http, jsonInit } from './helpers.js';

const KEY = simulatorCredentials['dynamic-yield'].apiKey;
const event = (pushID: string) =>
  jsonInit(
    'POST',
    {
      user: { id: 'u1' },
      session: { custom: 's1' },
      events: [{ name: 'Push Opt-Out', properties: { dyType: 'message-optout-v1', pushID } }],
    },
    { 'DY-API-Key': KEY },
  );

describe('simulator core (on the dynamic-yield simulator)', () => {
  let sim: SimulatorHandle;
  let url: string;
  beforeAll(async () => {
    sim = await startSimulator('dynamic-yield');
    url = `${sim.url}/v2/collect/user/event`;
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('listens on loopback with a random port', () => {
    expect(sim.url).toBe(`http://127.0.0.1:${sim.port}`);
    expect(sim.port).toBeGreaterThan(0);
  });

  it('logs ESP requests with credentials masked, but not control requests', async () => {
    await http(url, event('p1'));
    await http(`${sim.url}/__sim/state`);
    const log = (await http(`${sim.url}/__sim/requests`)).body as LoggedRequest[];
    expect(log).toHaveLength(1);
    const [entry] = log;
    expect(entry).toMatchObject({
      seq: 1,
      method: 'POST',
      path: '/v2/collect/user/event',
      status: 204,
      outcome: 'answered',
      fault: false,
    });
    expect(entry?.headers['dy-api-key']).toBe('***');
    expect(entry?.body).toMatchObject({ user: { id: 'u1' } });
    expect(JSON.stringify(sim.requests())).not.toContain(KEY);
    const since = (await http(`${sim.url}/__sim/requests?since=1`)).body as LoggedRequest[];
    expect(since).toEqual([]);
  });

  it('plays a scripted status sequence, then answers normally', async () => {
    await control(sim.url, '/__sim/faults', {
      rules: [
        {
          method: 'POST',
          path: '/v2/collect',
          steps: [
            { status: 503 },
            { status: 500, body: { error: 'boom' } },
            { status: 429, body: 'slow down' },
          ],
        },
      ],
    });
    const statuses: number[] = [];
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await http(url, event(`p${i}`));
      statuses.push(r.status);
      bodies.push(r.text);
    }
    expect(statuses).toEqual([503, 500, 429, 204]);
    expect(bodies.slice(0, 3)).toEqual(['', '{"error":"boom"}', 'slow down']);
    expect(sim.requests().map((r) => r.fault)).toEqual([true, true, true, false]);
    // Faulted requests never reached the simulator's state.
    expect(sim.state().recipients).toEqual({ p3: { push: 'opted_out' } });
  });

  it('sends Retry-After as seconds or HTTP-date, and rate-limit reset headers', async () => {
    const date = new Date(Date.now() + 10_000).toUTCString();
    sim.setFaults({
      rules: [
        {
          path: '*',
          steps: [
            { status: 429, headers: { 'Retry-After': 7 } },
            { status: 429, headers: { 'Retry-After': date, 'X-RateLimit-Reset': 1700000000 } },
          ],
        },
      ],
    });
    const a = await http(url, event('p1'));
    const b = await http(url, event('p1'));
    expect([a.status, a.headers.get('retry-after')]).toEqual([429, '7']);
    expect([b.status, b.headers.get('retry-after'), b.headers.get('x-ratelimit-reset')]).toEqual([
      429,
      date,
      '1700000000',
    ]);
  });

  it('resets the connection', async () => {
    sim.setFaults({ rules: [{ path: '/v2', steps: [{ reset: true }] }] });
    await expect(fetch(url, event('p1'))).rejects.toThrow();
    expect(sim.requests()[0]).toMatchObject({ outcome: 'reset', status: null, fault: true });
    expect((await http(url, event('p1'))).status).toBe(204);
  });

  it('never answers a timeout step (the client gives up)', async () => {
    sim.setFaults({ rules: [{ path: '*', steps: [{ timeout: true }] }] });
    await expect(fetch(url, { ...event('p1'), signal: AbortSignal.timeout(150) })).rejects.toThrow();
    expect(sim.requests()[0]).toMatchObject({ outcome: 'timeout', status: null });
  });

  it('applies persistent latency and per-step delays with pass-through', async () => {
    sim.setFaults({
      latencyMs: 120,
      rules: [{ path: '*', steps: [{ delayMs: 80, headers: { 'X-Extra': 'yes' } }] }],
    });
    const t0 = performance.now();
    const r = await http(url, event('p1'));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    expect(r.status).toBe(204);
    expect(r.headers.get('x-extra')).toBe('yes');
    // The step was consumed: the next request only pays the persistent latency.
    expect((await http(`${sim.url}/__sim/faults`)).body).toMatchObject({
      latencyMs: 120,
      rules: [{ steps: [] }],
    });
    const t1 = performance.now();
    await http(url, event('p2'));
    expect(performance.now() - t1).toBeGreaterThanOrEqual(110);
  });

  it('matches rules by method and path prefix, and exposes the remaining script', async () => {
    sim.setFaults({
      rules: [
        { method: 'GET', path: '/v2', steps: [{ status: 500 }] },
        { path: '/other', steps: [{ status: 502 }] },
      ],
    });
    expect((await http(url, event('p1'))).status).toBe(204);
    const remaining = (await http(`${sim.url}/__sim/faults`)).body as { rules: { steps: unknown[] }[] };
    expect(remaining.rules.map((r) => r.steps.length)).toEqual([1, 1]);
  });

  it('rejects an invalid fault script and unsubscribe body with 400', async () => {
    expect((await control(sim.url, '/__sim/faults', { rules: [{ steps: [] }] })).status).toBe(400);
    expect(
      (await control(sim.url, '/__sim/faults', { rules: [{ path: '*', steps: [{ status: 'x' }] }] })).status,
    ).toBe(400);
    expect((await control(sim.url, '/__sim/unsubscribe', { channel: 'email' })).status).toBe(400);
  });

  it('POST /__sim/reset clears state, log and faults', async () => {
    await http(url, event('p1'));
    sim.setFaults({ rules: [{ path: '*', steps: [{ status: 500 }] }] });
    expect((await control(sim.url, '/__sim/reset')).status).toBe(200);
    expect(sim.state().recipients).toEqual({});
    expect(sim.requests()).toEqual([]);
    expect((await http(url, event('p2'))).status).toBe(204);
  });

  it('answers 501 naming what it does not simulate, for an unknown path or method', async () => {
    const unknown = await http(`${sim.url}/nope`);
    expect([unknown.status, unknown.body]).toEqual([
      501,
      { error: 'not simulated', message: 'the dynamic-yield simulator does not simulate GET /nope' },
    ]);
    const r = await http(url, { method: 'GET', headers: { 'DY-API-Key': KEY } });
    expect(r.status).toBe(501);
    expect(r.headers.get('allow')).toBe('POST');
    expect(r.body).toMatchObject({ simulated: [`POST ${new URL(url).pathname}`] });
  });

  it('accepts and clears a webhook target over HTTP', async () => {
    const set = await control(sim.url, '/__sim/webhook-target', { url: 'http://127.0.0.1:9/hook' });
    expect(set.body).toMatchObject({ ok: true, webhooks: false });
    expect((await control(sim.url, '/__sim/webhook-target', { url: 'not a url' })).status).toBe(400);
    expect((await control(sim.url, '/__sim/webhook-target', { url: null })).status).toBe(200);
  });
});

describe('startSimulators', () => {
  it('starts all five on random ports and closes them', async () => {
    const running = await startSimulators();
    expect(Object.keys(running.sims)).toEqual(ESP_ORDER);
    for (const name of ESP_ORDER) {
      expect(running.urls[name]).toBe(running.sims[name].url);
      expect((await http(`${running.urls[name]}/__sim/info`)).body).toMatchObject({ name });
    }
    await running.close();
    await expect(fetch(`${running.urls.ometria}/__sim/state`)).rejects.toThrow();
  });

  it('uses basePort..basePort+4 in ESP_ORDER', async () => {
    const base = 20000 + Math.floor(Math.random() * 20000);
    const running = await startSimulators({ basePort: base });
    try {
      expect(ESP_ORDER.map((n) => running.sims[n].port)).toEqual([
        base,
        base + 1,
        base + 2,
        base + 3,
        base + 4,
      ]);
    } finally {
      await running.close();
    }
  });
});

describe('runSimulatorsCli', () => {
  it('parses arguments', () => {
    expect(parseSimulatorsCliArgs([])).toEqual({ basePort: 4101, help: false });
    expect(parseSimulatorsCliArgs(['--base-port', '0', '--host=127.0.0.1'])).toEqual({
      basePort: 0,
      host: '127.0.0.1',
      help: false,
    });
    expect(() => parseSimulatorsCliArgs(['--bogus'])).toThrow();
  });

  it('prints names, URLs and credentials, and stops when signalled', async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    let urls: Readonly<Record<string, string | undefined>> = {};
    const done = runSimulatorsCli(['--base-port', '0'], {
      print: (l) => lines.push(l),
      signal: stop.signal,
      onReady: (running) => {
        urls = running.urls;
        stop.abort();
      },
    });
    await done;
    const out = lines.join('\n');
    for (const name of ESP_ORDER) expect(out).toContain(name);
    expect(out).toContain(simulatorCredentials.ometria.apiKey);
    expect(out).toContain('simulators stopped');
    await expect(fetch(`${urls.ometria}/__sim/state`)).rejects.toThrow();
  });
});
