import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEspSimulators } from '../../support/esp-sims.js';
import {
  type AppProcess,
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

/**
 * reliability.md §7 A1 at the scale the FerretDB test server allows: 1,000 events over 200
 * contacts (the 10,000 over 2,000 needs a real MongoDB), three worker processes, one of
 * them SIGKILLed every 2 s and restarted (15 kills), with a 2 s job lock and a 1 s stalled check.
 * CHAOS_EVENTS / CHAOS_CONTACTS scale it down (e.g. 300 / 60 runs in ~80 s).
 *
 * PENDING (fails until src/ is fixed; rename to .test.ts then). An apply job whose worker dies
 * twice while it holds the job (or loses its lock twice) fails with "job stalled more than
 * allowable limit" (BullMQ maxStalledCount 1, not configurable), with attempts left. Its event
 * stays pending for good: the sweeper's re-enqueue reuses the jobId `apply-<eventId>`, which
 * BullMQ ignores while the failed job exists (kept 30 days). Measured at 1,000 / 200: 104 events
 * stuck pending, 110 failed apply jobs; at 300 / 60 with the sweeper fix emulated (failed
 * apply jobs of pending events retried), everything below passes: 0 lost, 0 applied twice, 0
 * wrong states, 649 ESP comparisons equal. See failed-apply-recovery.pending.ts.
 *
 * On this 2-core machine the full scale takes 2.5–5 min (FerretDB applies ~7 events/s under
 * the load of the other sessions), beyond the ~90 s target of a chaos file.
 */
const EVENTS = Number(process.env['CHAOS_EVENTS'] ?? 300);
const CONTACTS = Number(process.env['CHAOS_CONTACTS'] ?? 60);
const KILL_EVERY_MS = 2_000;
const MAX_KILLS = 15;

describe('chaos: worker SIGKILL under load', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      ownRedis: true,
      ownMongo: true,
      workers: 3,
      startSims: () => startEspSimulators(),
      crossEngageUsers: Array.from({ length: CONTACTS }, (_, i) => chaosContact('k', i).externalId),
      extra: {
        WORKER_LOCK_DURATION_MS: '2000',
        WORKER_STALLED_INTERVAL_MS: '1000',
        SWEEP_DELAY_MS: '5000',
        SWEEP_INTERVAL_MS: '2000',
      },
    });
  });
  afterAll(async () => stack?.stop());

  it('every event applied once in effect, every ESP equal to MongoDB, nothing lost', { timeout: 300_000 }, async () => {
    const generated = generateEvents({ prefix: 'k', events: EVENTS, contacts: CONTACTS, seed: 20261201 });
    const started = Date.now();

    // Kill a running worker every 2 s (round robin) and restart it, while the events arrive
    // and are processed, until MAX_KILLS or until fewer than 10% of the events are pending.
    let killing = true;
    const restarts: Promise<void>[] = [];
    const chaos = (async () => {
      for (let n = 0; killing && n < MAX_KILLS * 3; n++) {
        await cadence(KILL_EVERY_MS);
        const ready = stack.workers.filter((w) => w.ready);
        const victim: AppProcess | undefined = ready[n % Math.max(1, ready.length)];
        if (!victim) continue;
        await victim.kill();
        restarts.push(victim.start());
        const kills = stack.workers.reduce((sum, w) => sum + w.kills, 0);
        if (kills >= MAX_KILLS) return;
        const pending = await stack.ctx.models.events.countDocuments({ status: 'pending' });
        if (n > 3 && pending < EVENTS / 10) return;
      }
    })();

    const load = await sendEvents(
      stack.url,
      generated.map((g) => g.event),
      { batch: 50, inFlight: 2 },
    );
    await chaos;
    killing = false;
    await Promise.all(restarts);
    const kills = stack.workers.reduce((sum, w) => sum + w.kills, 0);
    const chaosEnded = Date.now();
    const quiet = await waitForQuiescence(stack.ctx, { timeoutMs: 200_000 });
    const report = await convergenceReport(stack, generated, load.acked);
    figures('worker-sigkill', {
      events: EVENTS,
      contacts: CONTACTS,
      acked: load.acked.size,
      kills,
      restarts: kills,
      chaosSeconds: ((chaosEnded - started) / 1000).toFixed(1),
      quiescenceSeconds: ((Date.now() - chaosEnded) / 1000).toFixed(1),
      totalSeconds: ((Date.now() - started) / 1000).toFixed(1),
      lost: report.lost.length,
      doubleApplied: report.doubleApplied.length,
      wrongState: report.wrongState.length,
      espCompared: report.esp.compared,
      espMismatches: report.esp.mismatches.length,
      espExplained: report.esp.explained.length,
      failedExplained: report.failedExplained.length,
      failedUnexplained: report.failedUnexplained.length,
      failedSets: quiet.failed,
    });

    expect(kills).toBeGreaterThanOrEqual(8);
    expect(load.acked.size).toBe(EVENTS);
    expect(report.events).toBe(EVENTS);
    expect(report.lost).toEqual([]);
    expect(report.audits).toBe(EVENTS);
    expect(report.distinctAudits).toBe(EVENTS);
    expect(report.doubleApplied).toEqual([]);
    expect(report.wrongState.slice(0, 5)).toEqual([]);
    expect(report.esp.mismatches.slice(0, 10)).toEqual([]);
    expect(report.failedUnexplained).toEqual([]);
  });
});
