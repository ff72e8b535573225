import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEspSimulators } from '../../support/esp-sims.js';
import {
  cadence,
  chaosContact,
  convergenceReport,
  figures,
  generateEvents,
  type Stack,
  sendEvents,
  startStack,
  waitForQuiescence,
} from '../../support/chaos.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * reliability.md §7 A7a: the MongoDB-protocol server (mongo-java-server on an H2 MVStore file,
 * every command committed before its reply) is SIGKILLed while events arrive and are applied,
 * and restarted 7 s later on the same port and file. Requests that fail meanwhile are not acknowledged and the
 * sender retries them (as the TypeScript client does); jobs retry with backoff.
 */
const EVENTS = 240;
const CONTACTS = 40;
/** Longer than the driver's 5 s server selection timeout, so operations fail and jobs retry. */
const OUTAGE_MS = 7_000;

describe('chaos: MongoDB-protocol server SIGKILL and restart mid-run', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      ownMongo: true,
      workers: 2,
      startSims: () => startEspSimulators(['ometria', 'crossengage']),
      crossEngageUsers: Array.from({ length: CONTACTS }, (_, i) => chaosContact('m', i).externalId),
      extra: { SWEEP_DELAY_MS: '3000', SWEEP_INTERVAL_MS: '2000' },
    });
  });
  afterAll(async () => stack?.stop());

  it('jobs retry; nothing lost or applied twice; processes resume without a restart', { timeout: 120_000 }, async () => {
    const mongo = stack.mongo!;
    const generated = generateEvents({ prefix: 'm', events: EVENTS, contacts: CONTACTS, seed: 20261203 });
    const events = generated.map((g) => g.event);
    const pids = [stack.web, ...stack.workers].map((p) => p.pid);
    const started = Date.now();

    // A: 120 events; the kill comes while they are being applied and pushed.
    const a = await sendEvents(stack.url, events.slice(0, 120), { batch: 20, inFlight: 2 });
    await waitFor(async () => (await stack.ctx.models.audit.countDocuments({})) >= 20, { what: 'work in progress' });
    const auditedBeforeKill = await stack.ctx.models.audit.countDocuments({});
    await mongo.kill();
    const down = Date.now();
    let up: number | undefined;
    const outage = cadence(OUTAGE_MS).then(async () => {
      await mongo.restart();
      up = Date.now();
    });
    // B: the rest arrives during and after the outage; unacknowledged batches are retried.
    const b = await sendEvents(stack.url, events.slice(120), { batch: 20, inFlight: 2, deadlineMs: 60_000 });
    await outage;
    const acked = new Set([...a.acked, ...b.acked]);
    await waitFor(async () => (await fetch(`${stack.url}/readyz`)).status === 200, { what: 'web /readyz 200 again', timeoutMs: 30_000 });
    const quiet = await waitForQuiescence(stack.ctx, { timeoutMs: 90_000 });
    const resumed = Date.now();
    const report = await convergenceReport(stack, generated, acked);
    const jobRetries = stack.workers.reduce((n, w) => n + (w.output().match(/"msg":"job failed"/g)?.length ?? 0), 0);
    figures('mongo-kill', {
      events: EVENTS,
      acked: acked.size,
      auditedBeforeKill,
      statusesDuringOutage: b.statuses,
      outageSeconds: (((up ?? 0) - down) / 1000).toFixed(1),
      jobRetries,
      secondsToQuiescenceAfterRestart: ((resumed - (up ?? resumed)) / 1000).toFixed(1),
      totalSeconds: ((resumed - started) / 1000).toFixed(1),
      lost: report.lost.length,
      doubleApplied: report.doubleApplied.length,
      wrongState: report.wrongState.length,
      espMismatches: report.esp.mismatches.length,
      failedExplained: report.failedExplained.length,
      failedSets: quiet.failed,
    });

    expect(up).toBeDefined();
    // the kill hit work in progress, and the workers' jobs failed and were retried
    expect(auditedBeforeKill).toBeLessThan(120);
    expect(jobRetries).toBeGreaterThan(0);
    expect(acked.size).toBe(EVENTS);
    expect(report.events).toBe(EVENTS);
    expect(report.lost).toEqual([]);
    expect(report.audits).toBe(EVENTS);
    expect(report.distinctAudits).toBe(EVENTS);
    expect(report.doubleApplied).toEqual([]);
    expect(report.wrongState.slice(0, 5)).toEqual([]);
    expect(report.esp.mismatches.slice(0, 10)).toEqual([]);
    expect(report.failedUnexplained).toEqual([]);
    expect([stack.web, ...stack.workers].map((p) => p.pid)).toEqual(pids);
    expect([stack.web, ...stack.workers].every((p) => p.running && p.starts === 1)).toBe(true);
  });
});
