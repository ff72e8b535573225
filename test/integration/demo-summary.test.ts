import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  collectDemoSummary,
  type DemoSummary,
  formatDemoSummary,
  waitForDrain,
} from '../../src/dev/demo-summary.js';
import { startTraffic, type Traffic } from '../../src/dev/traffic.js';
import type { EspName } from '../../src/esp/types.js';
import { startTestApp } from '../support/app.js';
import { startEspSimulators } from '../support/esp-sims.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The summary `npm run demo` ends with (issue #17), against the five simulators and a real
 * store: the demo's own traffic (faults included) through web and a worker, drained, then each
 * figure of the summary checked against what the simulators and MongoDB hold.
 */
describe('the demo summary', () => {
  let sims: Awaited<ReturnType<typeof startEspSimulators>>;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let traffic: Traffic;
  let summary: DemoSummary;

  beforeAll(async () => {
    sims = await startEspSimulators();
    app = await startTestApp({ env: sims.env, workers: 1 });
    // At least 30 ticks: two fault scripts (ticks 15 and 30), four bad events (7, 14, 21, 28).
    traffic = startTraffic({ baseUrl: app.url, simulatorUrls: sims.urls, intervalMs: 50, log: () => {} });
    await waitFor(() => traffic.ticks() >= 30, {
      what: '30 ticks of demo traffic',
      timeoutMs: 30_000,
      intervalMs: 10,
    });
    await traffic.stop();
    // A tick still sending when the interval was cleared is awaited by stop(); nothing arrives later.
    await waitForDrain(app.ctx, 60_000, 200);
    summary = await collectDemoSummary(app.ctx, sims);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await sims?.close();
  });

  it("counts each simulator's requests, their answers and the faults it acted out", () => {
    const counts = traffic.counts();
    expect(counts.faultsInjected).toBe(Math.floor(traffic.ticks() / 15));
    // The demo scripts its n-th fault at simulator n (of five): one 429 when n is odd, else three 503s.
    const targets = Object.keys(sims.urls) as EspName[];
    const scripted: Partial<Record<EspName, number>> = {};
    for (let n = 1; n <= counts.faultsInjected; n++) {
      const esp = targets[n % targets.length]!;
      scripted[esp] = (scripted[esp] ?? 0) + (n % 2 === 0 ? 3 : 1);
    }
    expect(summary.esps.map((e) => e.esp)).toEqual(app.ctx.esps);
    for (const e of summary.esps) {
      const log = sims.sims[e.esp]!.requests();
      expect(e.requests, e.esp).toBe(log.length);
      expect(e.requests, e.esp).toBeGreaterThan(0);
      expect(Object.values(e.statuses).reduce((a, b) => a + b, 0)).toBe(e.requests);
      expect(e.statuses['200'] ?? 0, e.esp).toBe(log.filter((r) => r.status === 200).length);
      expect(e.faulted, e.esp).toBe(log.filter((r) => r.fault).length);
      expect(e.faulted + e.faultsLeft, e.esp).toBe(scripted[e.esp] ?? 0);
    }
  });

  it('compares what each ESP holds with MongoDB, per channel, after the pipeline drained', async () => {
    expect(summary.backlog).toEqual({ pendingEvents: 0, pendingOutbox: 0, jobs: 0 });
    expect(await app.ctx.models.events.countDocuments({})).toBe(traffic.counts().accepted);
    expect(summary.contacts).toBe(await app.ctx.models.contacts.countDocuments({}));
    const emailOut = await app.ctx.models.contacts.countDocuments({
      'effective.marketing.email.state': 'opted_out',
    });
    expect(emailOut).toBeGreaterThan(0);
    for (const e of summary.esps) {
      expect(e.channels.email.ours.optedOut, e.esp).toBe(emailOut);
      // Everything MongoDB decided reached the ESP, or MongoDB records why not.
      expect(e.agree + e.explained, e.esp).toBe(e.compared);
      if (e.explained === 0) {
        for (const [channel, c] of Object.entries(e.channels))
          expect(c.esp, `${e.esp} ${channel}`).toEqual(c.ours);
      }
    }
  });

  it('reports dead letters and paused queues as the operator views do', async () => {
    const statuses = await app.ctx.services.espStatuses();
    for (const e of summary.esps) {
      const letters = await app.ctx.services.deadLetters({ esp: e.esp, limit: 1_000 });
      expect(e.deadLetters, e.esp).toBe(letters.length);
      expect(e.paused, e.esp).toBe(statuses.find((s) => s.esp === e.esp)?.paused);
    }
  });

  it('prints about ten lines of counts, no email address or contact id', async () => {
    const lines = formatDemoSummary(summary, traffic.counts());
    expect(lines).toHaveLength(1 + 2 * summary.esps.length);
    const { accepted, refused, faultsInjected } = traffic.counts();
    expect(refused).toBe(Math.floor(traffic.ticks() / 7));
    expect(lines[0]).toContain(
      `${accepted} event${accepted === 1 ? '' : 's'} accepted, ${refused} bad ${refused === 1 ? 'one' : 'ones'} refused, ${faultsInjected} fault script${faultsInjected === 1 ? '' : 's'} injected`,
    );
    expect(lines[0]).toContain('everything delivered');
    for (const e of summary.esps) expect(lines.join('\n')).toContain(`  ${e.esp}: ${e.requests} requests (`);
    const text = lines.join('\n');
    expect(text).not.toMatch(/@|demo-\d/);
    const ids = (await app.ctx.models.contacts.find({}, { _id: 1 }).lean()).map((c) => String(c._id));
    for (const id of ids) expect(text).not.toContain(id);
  });
});
